/**
 * The madmin envelope against the real server, both directions: the server decrypts bodies
 * we seal with each algorithm id (proven by logging in with the secret it read), and we
 * decrypt what the server seals, including a reply longer than one 16 KiB fragment.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { getStack } from '../support/stack';
import {
  createAdminClient,
  createS3,
  decryptMadmin,
  generateCredentials,
  isMadminEncrypted,
  MadminAlgorithm,
  signRequest,
  type AdminClient,
  type Credentials,
  type MadminAlgorithmId,
} from '../../src/rustfs';

async function rootFromSecret(): Promise<Credentials> {
  const stack = getStack();
  const kc = new KubeConfig();
  kc.loadFromFile(stack.kube.kubeconfig);
  const secret = await kc.makeApiClient(CoreV1Api).readNamespacedSecret(stack.store.rootSecret);
  const get = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
  return { accessKey: get('access-key'), secretKey: get('secret-key') };
}

/** One signed admin GET, returning the raw (still sealed) reply. */
async function rawGet(endpoint: string, root: Credentials, route: string): Promise<Buffer> {
  const url = new URL(`${endpoint}/minio/admin/v3/${route}`);
  const headers = await signRequest({ method: 'GET', url }, { credentials: root });
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200, `${route}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

describe('madmin envelope against the real server', () => {
  const sfx = randomBytes(4).toString('hex');
  let endpoint: string;
  let region: string;
  let root: Credentials;
  let kind: string;
  const created: string[] = [];
  const clients = new Map<MadminAlgorithmId, AdminClient>();
  /** Why the envelope cannot be tested here: the store does not serve /minio/admin/v3. */
  let notServed: string | undefined;

  before(async () => {
    const stack = getStack();
    endpoint = stack.store.endpoint;
    region = stack.store.region;
    kind = stack.store.kind;
    root = await rootFromSecret();
    const caps = await createAdminClient({
      endpoint,
      region,
      credentials: root,
      dialect: 'auto',
    }).detectCapabilities();
    if (!caps.dialects.includes('madmin')) {
      notServed = `this ${kind} ${caps.version ?? ''} does not serve /minio/admin/v3 (${caps.detectedBy.find((l) => l.includes('/minio/admin/v3')) ?? ''})`;
      console.log(`# SKIP ${notServed}`);
    }
    for (const id of [0x00, 0x01, 0x02] as MadminAlgorithmId[]) {
      clients.set(
        id,
        createAdminClient({ endpoint, region, credentials: root, dialect: 'madmin', madminAlgorithm: id }),
      );
    }
  });

  after(async () => {
    const admin = clients.get(MadminAlgorithm.Pbkdf2AesGcm);
    if (!admin) return;
    for (let i = 0; i < created.length; i += 16) {
      await Promise.all(created.slice(i, i + 16).map((u) => admin.removeUser(u).catch(() => undefined)));
    }
  });

  for (const [id, label] of [
    [MadminAlgorithm.Argon2idAesGcm, 'Argon2id + AES-256-GCM'],
    [MadminAlgorithm.Argon2idChaCha20Poly1305, 'Argon2id + ChaCha20-Poly1305'],
    [MadminAlgorithm.Pbkdf2AesGcm, 'PBKDF2-SHA256 + AES-256-GCM'],
  ] as const) {
    test(`the server decrypts our id 0x0${id} body (${label})`, async (t) => {
      if (notServed) return t.skip(notServed);
      const user = `rt-env${id}-${sfx}`;
      const secret = generateCredentials().secretKey;
      await clients.get(id)!.addUser(user, secret);
      created.push(user);
      // Logging in with the secret proves the server read exactly the plaintext we sealed.
      const s3 = createS3({
        endpoint,
        region,
        credentials: { accessKey: user, secretKey: secret },
        maxAttempts: 1,
      });
      try {
        // A fresh user has no policy: authenticated but denied is the expected answer.
        await assert.rejects(s3.listObjects('rt-nonexistent-bucket'), (e: { code?: string }) => {
          assert.ok(e.code === 'AccessDenied' || e.code === 'NotFound', `got ${e.code}`);
          return true;
        });
        const wrong = createS3({
          endpoint,
          region,
          credentials: { accessKey: user, secretKey: `${secret}x` },
          maxAttempts: 1,
        });
        await assert.rejects(wrong.listObjects('rt-nonexistent-bucket'), { code: 'AuthenticationFailed' });
        wrong.close();
      } finally {
        s3.close();
      }
    });
  }

  test('we decrypt the server-sealed list-users reply, across several fragments', async (t) => {
    if (notServed) return t.skip(notServed);
    const admin = clients.get(MadminAlgorithm.Pbkdf2AesGcm)!;
    // Long names so the reply outgrows one 16 KiB fragment without thousands of users.
    const names = Array.from(
      { length: 220 },
      (_, i) => `rt-bulk-${sfx}-${String(i).padStart(3, '0')}-${'x'.repeat(40)}`,
    );
    for (let i = 0; i < names.length; i += 16) {
      await Promise.all(
        names.slice(i, i + 16).map(async (n) => {
          await admin.addUser(n, generateCredentials().secretKey);
          created.push(n);
        }),
      );
    }
    const sealed = await rawGet(endpoint, root, 'list-users');
    assert.ok(isMadminEncrypted(sealed), 'list-users reply is sealed');
    const expectedId = kind === 'minio' ? MadminAlgorithm.Argon2idAesGcm : MadminAlgorithm.Pbkdf2AesGcm;
    assert.equal(sealed[32], expectedId, `${kind} seals with id 0x0${expectedId}`);
    assert.ok(sealed.length > 41 + 16 * 1024 + 16, `reply spans several fragments (${sealed.length} bytes)`);
    const { plaintext } = await decryptMadmin(root.secretKey, sealed);
    const users = JSON.parse(plaintext.toString('utf8')) as Record<string, { status: string }>;
    for (const n of names) assert.equal(users[n]?.status, 'enabled', `${n} listed`);

    // And through the client.
    const listed = await admin.listUsers();
    for (const n of names) assert.ok(n in listed);

    // A tampered copy of the real reply is refused, not misread.
    const bad = Buffer.from(sealed);
    bad[41 + 100]! ^= 0x40;
    await assert.rejects(decryptMadmin(root.secretKey, bad), {
      name: 'MadminCryptoError',
      reason: 'not-authentic',
    });
    await assert.rejects(decryptMadmin(`${root.secretKey}x`, sealed), { reason: 'not-authentic' });
    await assert.rejects(decryptMadmin(root.secretKey, sealed.subarray(0, 41 + 16 * 1024 + 16)), {
      reason: 'not-authentic',
    });
  });
});
