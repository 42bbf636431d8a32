import { ApplicationFailure } from '@temporalio/common';
import {
  type AdminClient,
  type Credentials,
  IAM_RELOAD_WINDOW_MS,
  generateCredentials,
  iamWritesMayBeUndone,
  isAdminError,
} from '../rustfs';
import { type ActivityDeps } from './deps';
import { refusedOnEveryNode } from './store-nodes';

/** Re-applies of one undone write before the activity fails (and is retried as a whole). */
const REAPPLY_LIMIT = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The store-side checks the rotation's promises rest on: whether a key authenticates, and
 * IAM writes that are read back until they last.
 */
export function createIamWrites(
  deps: Pick<ActivityDeps, 'inventory' | 's3' | 'kube'>,
  reloadWindowMs = IAM_RELOAD_WINDOW_MS,
) {
  const { inventory } = deps;

  /**
   * The store accepts `cred` (an authorization refusal still means it authenticated): through
   * its endpoint, or one node's own when `endpoint` names it.
   */
  const authenticates = async (cred: Credentials, endpoint?: string): Promise<boolean> => {
    const s3 = deps.s3(cred, endpoint);
    try {
      await s3.listObjects(inventory.smoke.outsideBucket, inventory.smoke.prefix);
      return true;
    } catch (err) {
      if (isAdminError(err, 'AccessDenied') || isAdminError(err, 'NotFound')) return true;
      if (isAdminError(err, 'AuthenticationFailed')) return false;
      throw err;
    } finally {
      s3.close();
    }
  };

  /**
   * The write that makes a key stop working: a service account is deleted (already gone is
   * fine); the user's own key gets a random secret nobody holds.
   */
  const removeKey = async (admin: AdminClient, zoneUser: string, cred: Credentials): Promise<void> => {
    if (cred.accessKey === zoneUser) return admin.addUser(zoneUser, generateCredentials().secretKey);
    try {
      await admin.deleteServiceAccount(cred.accessKey);
    } catch (err) {
      if (!isAdminError(err, 'NotFound')) throw err;
    }
  };

  const mayUndo = async (admin: AdminClient): Promise<boolean> =>
    inventory.store.kind === 'rustfs' && iamWritesMayBeUndone((await admin.serverInfo()).version);

  /**
   * Applies an IAM write a promise rests on (a key that must work, or must stop working).
   * On a store whose IAM reload may undo it (rustfs/iam-reload.ts), it is read back once the
   * reload window has passed and applied again while it is undone; `apply` must be safe to
   * repeat. Elsewhere it is applied once.
   */
  const lasting = async (
    admin: AdminClient,
    what: string,
    apply: () => Promise<string>,
    holds: () => Promise<boolean>,
  ): Promise<string> => {
    const result = await apply();
    if (!(await mayUndo(admin))) return result;
    for (let reapplied = 0; ; reapplied++) {
      await sleep(reloadWindowMs);
      if (await holds()) {
        return reapplied === 0
          ? result
          : `${result} (the store's IAM reload undid it; applied again ${reapplied}×)`;
      }
      if (reapplied === REAPPLY_LIMIT) {
        throw ApplicationFailure.retryable(
          `the store undid ${what} ${REAPPLY_LIMIT + 1} times in a row (each read back ${reloadWindowMs} ms after the write); ` +
            'RustFS before 1.0.0-beta.6 reloads IAM every 120 s and may drop writes made meanwhile',
          'StoreIamWriteUndone',
        );
      }
      await apply();
    }
  };

  /**
   * Removes a key (removeKey) until it no longer authenticates (lasting), and on a multi-node
   * store until every serving node refuses it (refusedOnEveryNode). `done` says what was removed.
   */
  const revoke = async (
    admin: AdminClient,
    zoneUser: string,
    cred: Credentials,
    what: string,
    done: string,
  ): Promise<string> => {
    const removed = await lasting(
      admin,
      what,
      async () => {
        await removeKey(admin, zoneUser, cred);
        return done;
      },
      async () => !(await authenticates(cred)),
    );
    const everywhere = await refusedOnEveryNode(deps, cred, authenticates);
    return everywhere ? `${removed}; ${everywhere}` : removed;
  };

  return { authenticates, lasting, revoke };
}
