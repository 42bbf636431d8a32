import { createAdminClient, createS3, isAdminError, type Credentials } from '../../src/rustfs';
import { type SandboxState } from '../../src/sandbox/state';

/** A credential Secret's data as admin-client credentials. */
export const creds = (d: Record<string, string>): Credentials => ({
  accessKey: d['access-key']!,
  secretKey: d['secret-key']!,
});

/** true when `c` may list the bucket, else the typed error code (e.g. AuthenticationFailed). */
export async function canList(
  stack: SandboxState,
  c: Credentials,
  bucket = 'processed',
): Promise<true | string> {
  const s3 = createS3({ endpoint: stack.store.endpoint, credentials: c, maxAttempts: 1 });
  try {
    await s3.listObjects(bucket);
    return true;
  } catch (err) {
    return isAdminError(err) ? err.code : String(err);
  } finally {
    s3.close();
  }
}

/**
 * An admin client on the sandbox's store in the API it serves: madmin on MinIO,
 * /rustfs/admin/v3 on RustFS (every release serves it; alpha.85 has no madmin).
 */
export const storeAdmin = (stack: SandboxState, c: Credentials, timeoutMs?: number) =>
  createAdminClient({
    endpoint: stack.store.endpoint,
    dialect: stack.store.kind === 'minio' ? 'madmin' : 'rustfs',
    credentials: c,
    timeoutMs,
  });

/** true when `c` is accepted by the admin API as a root credential, else the typed error code. */
export async function adminWorks(stack: SandboxState, c: Credentials): Promise<true | string> {
  try {
    await storeAdmin(stack, c, 3000).serverInfo();
    return true;
  } catch (err) {
    return isAdminError(err) ? err.code : String(err);
  }
}
