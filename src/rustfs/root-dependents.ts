/**
 * What depends on the store's root credential besides the store itself, and what a root
 * rotation (a new root secret, the same root access key: RotateRoot never changes the key)
 * does to it. Read in the servers' source:
 *
 * - A service account whose parent is the root holds root's rights only while its parent
 *   equals the *current* root access key (RustFS rc.3 crates/iam/src/root_credentials.rs
 *   `is_root_access_key`, beta.7 / alpha.85 sys.rs `is_owner = … cred.access_key ==
 *   parent_user`; MinIO cmd/iam.go `isOwnerDerived := parentUser == globalActiveCred.AccessKey`).
 *   Its own token is signed with its own secret (sys.rs / iam.go
 *   `create_new_credentials_with_metadata(…, &secret_key)`), not the root's. So a new root
 *   secret under the same access key leaves it working with root's rights; a new root access
 *   key strips them; a store that loses its IAM on a root change (RustFS alpha.85) loses the
 *   account itself, and the rotator re-creates only the zones' identities.
 * - Console and STS session tokens are signed with the root secret (RustFS `token_signing_key`
 *   = the root secret, GHSA-m77q-r63m-pj89; MinIO sts-handlers.go `getTokenSigningKey` =
 *   `globalActiveCred.SecretKey` without site replication): a new root secret ends them.
 */
import type { AdminClient, StoreCapabilities } from './types';

export interface RootDependents {
  /** Access keys (never secrets) of the service accounts whose parent is the root access key. */
  serviceAccounts: string[];
  /** What a root rotation does to those accounts on this store. */
  serviceAccountsEffect: string;
  /** What a root rotation does to console and STS sessions. */
  sessions: string;
}

export const SESSIONS_END =
  'console and STS sessions signed with the root secret end (their tokens are signed with it): users sign in again';

/**
 * The service accounts whose parent is `rootAccessKey`. Root lists its own accounts with
 * `list-service-accounts?user=<root>` (RustFS service_account.rs ListServiceAccount, MinIO
 * ListServiceAccounts: the target is the named user); an account listed with another parent
 * is left out.
 */
export async function rootServiceAccounts(admin: AdminClient, rootAccessKey: string): Promise<string[]> {
  const listed = await admin.listServiceAccounts(rootAccessKey);
  return listed
    .filter((a) => a.parentUser === undefined || a.parentUser === '' || a.parentUser === rootAccessKey)
    .map((a) => a.accessKey)
    .filter(Boolean)
    .sort();
}

/** The sentence preflight, the plan and the audit state about the accounts. */
export function rootServiceAccountsEffect(
  caps: Pick<StoreCapabilities, 'kind' | 'version' | 'iamSurvivesRootChange'>,
  accessKeys: readonly string[],
): string {
  const n = accessKeys.length;
  const which = `${n} service account(s) whose parent is the root${n ? ` (${accessKeys.join(', ')})` : ''}`;
  const store = `${caps.kind}${caps.version ? ` ${caps.version}` : ''}`;
  if (!n) return `${which}: nothing to lose`;
  if (!caps.iamSurvivesRootChange) {
    return `${which} are lost with ${store}'s IAM on the root change and NOT re-created (only the zones are): they lose root's rights and stop authenticating`;
  }
  return `${which} keep root's rights on ${store}: RotateRoot keeps the root access key, and their rights follow their parent, which must equal the current root access key; a change of the root access key (outside the rotator) would strip them`;
}

export function describeRootDependents(
  caps: Pick<StoreCapabilities, 'kind' | 'version' | 'iamSurvivesRootChange'>,
  accessKeys: readonly string[],
): RootDependents {
  return {
    serviceAccounts: [...accessKeys],
    serviceAccountsEffect: rootServiceAccountsEffect(caps, accessKeys),
    sessions: SESSIONS_END,
  };
}
