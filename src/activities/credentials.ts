import { pendingSecretName, type Inventory, type Zone } from '../inventory';
import { type Kube, readSecret } from '../kube';
import { type Credentials } from '../rustfs';
import { nonRetryable } from './failures';

/** Keys of a credential Secret, as the seed runbook defines them. */
export const KEYS = {
  accessKey: 'access-key',
  secretKey: 'secret-key',
  endpoint: 'endpoint',
  previousAccessKey: 'previous-access-key',
  previousSecretKey: 'previous-secret-key',
} as const;

/** The pending record of a credential Secret; the inventory refuses a Secret named like another's. */
export const pendingName = pendingSecretName;

export type CredentialSource = 'current' | 'pending' | 'previous';

/**
 * Reads a credential from its Secret: `current` is the zone (or root) Secret itself;
 * `pending` is what this rotation issued, `previous` what consumers held before — both
 * recorded in the `<secret>-pending` Secret before the store is changed.
 */
export async function readCredential(
  kube: Kube,
  ref: { namespace: string; name: string },
  source: CredentialSource,
): Promise<Credentials> {
  const name = source === 'current' ? ref.name : pendingName(ref.name);
  const secret = await readSecret(kube, ref.namespace, name);
  const [ak, sk] =
    source === 'previous'
      ? [KEYS.previousAccessKey, KEYS.previousSecretKey]
      : [KEYS.accessKey, KEYS.secretKey];
  const accessKey = secret?.data[ak];
  const secretKey = secret?.data[sk];
  if (!accessKey || !secretKey) {
    throw nonRetryable(
      `Secret ${ref.namespace}/${name} ${secret ? `has no ${ak}/${sk}` : 'does not exist'} (${source} credential)`,
      'CredentialMissing',
    );
  }
  return { accessKey, secretKey };
}

export const readRoot = (kube: Kube, inv: Inventory, source: CredentialSource = 'current') =>
  readCredential(kube, inv.store.rootSecret, source);

export const readZoneCredential = (kube: Kube, zone: Zone, source: CredentialSource) =>
  readCredential(kube, zone.secret, source);
