/**
 * ensureZoneIdentity against the sandbox's real store and Kubernetes: a zone's service account
 * is created or updated from its Secret without reading the account back (on MinIO that reply
 * is sealed with Argon2id, 64 MiB a derivation), and a key held by another identity is never
 * taken over, although root's update-service-account would accept any parent's account.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Client, Connection } from '@temporalio/client';
import { parseDocument } from 'yaml';
import { createStoreActivities } from '../../src/activities/store';
import { loadInventory, type Inventory } from '../../src/inventory';
import { sandboxInventory } from '../../src/sandbox/inventory';
import { generateCredentials, type AdminClient, type Credentials } from '../../src/rustfs';
import { buildDeps, storeConnection } from '../../src/worker/build';
import { getStack } from '../support/stack';
import { adminKube, eventually, uniqueName } from '../support/kube';
import { canList } from '../support/store';
import { rustfsTagOf } from '../support/rustfs-binaries';

const NAMESPACE = 'dashi-data';

/** Counts the madmin envelope's Argon2id derivations in this process (src/rustfs calls the binding's export). */
function countArgon2(): { calls: number } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const binding = require('@node-rs/argon2') as { hashRaw: (...args: unknown[]) => Promise<unknown> };
  const counter = { calls: 0 };
  const original = binding.hashRaw;
  binding.hashRaw = (...args: unknown[]) => {
    counter.calls++;
    return original(...args);
  };
  return counter;
}

describe('ensureZoneIdentity against the real store', () => {
  const stack = getStack();
  const zoneName = uniqueName('idt');
  const zoneUser = `${zoneName}-user`;
  const otherUser = `${zoneName}-other`;
  const bucket = `${zoneName}-rw`;
  const secretName = `${zoneName}-cred`;
  const argon2 = countArgon2();
  const { core } = adminKube(stack);
  let dir: string;
  let inventory: Inventory;
  let client: Client;
  let root: AdminClient;
  let rootAccessKey: string;
  let activities: ReturnType<typeof createStoreActivities>;
  const createdAccounts: string[] = [];

  const writeZoneSecret = async (cred: Credentials) => {
    const data = { 'access-key': cred.accessKey, 'secret-key': cred.secretKey };
    const body = { metadata: { name: secretName, namespace: NAMESPACE }, stringData: data };
    try {
      await core.replaceNamespacedSecret({ name: secretName, namespace: NAMESPACE, body });
    } catch {
      await core.createNamespacedSecret({ namespace: NAMESPACE, body });
    }
  };

  /** What ensureZoneIdentity answered, and how many Argon2id derivations it took. */
  const ensure = async () => {
    const before = argon2.calls;
    const result = await activities.ensureZoneIdentity(zoneName);
    return { ...result, argon2idCalls: argon2.calls - before };
  };

  const conflictOf = async (): Promise<ApplicationFailure> => {
    const err = await activities.ensureZoneIdentity(zoneName).then(
      () => assert.fail('expected an IdentityConflict'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'IdentityConflict', err.message);
    assert.equal(err.nonRetryable, true);
    return err;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-identity-'));
    const doc = parseDocument(sandboxInventory(stack));
    doc.addIn(['zones'], {
      name: zoneName,
      user: zoneUser,
      policy: { readWrite: [bucket] },
      secret: { namespace: NAMESPACE, name: secretName },
      consumers: [],
    });
    const file = path.join(dir, 'inventory.yaml');
    fs.writeFileSync(file, doc.toString());
    inventory = await loadInventory(file);
    // The Argon2id counts below assume MinIO's madmin dialect, whose replies are sealed.
    if (stack.store.kind === 'minio') assert.equal(inventory.store.adminApi, 'madmin');
    client = new Client({
      connection: Connection.lazy({ address: stack.temporal.address }),
      namespace: stack.temporal.namespace,
    });
    const deps = buildDeps({
      inventory,
      kube: { kubeconfig: stack.kube.kubeconfig },
      store: storeConnection(inventory),
      client,
      namespace: stack.temporal.namespace,
    });
    activities = createStoreActivities(deps);
    const secret = await core.readNamespacedSecret({
      name: inventory.store.rootSecret.name,
      namespace: inventory.store.rootSecret.namespace,
    });
    const get = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
    root = deps.admin({ accessKey: get('access-key'), secretKey: get('secret-key') });
    rootAccessKey = get('access-key');
    const s3 = deps.s3({ accessKey: get('access-key'), secretKey: get('secret-key') });
    try {
      await s3.createBucket(bucket);
    } finally {
      s3.close();
    }
  });

  after(async () => {
    const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
    for (const k of createdAccounts) await quiet(root.deleteServiceAccount(k));
    await quiet(root.removeUser(zoneUser));
    await quiet(root.removeUser(otherUser));
    await quiet(root.removeCannedPolicy(`rotator-${zoneName}`));
    await quiet(core.deleteNamespacedSecret({ name: secretName, namespace: NAMESPACE }));
    await quiet(client.connection.close());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('verifyRoot states what the store showed it is', async () => {
    const id = await activities.verifyRoot();
    assert.equal(id.kind, stack.store.kind);
    const known: Record<string, Partial<typeof id>> = {
      minio: {
        dialects: ['madmin'],
        dialect: 'madmin',
        serviceAccountRoutes: 'singular',
        iamSurvivesRootChange: true,
      },
      '1.0.0-alpha.85': {
        dialects: ['rustfs'],
        dialect: 'rustfs',
        serviceAccountRoutes: 'plural',
        iamSurvivesRootChange: false,
      },
      '1.0.0-beta.7': {
        version: '1.0.0-beta.7',
        dialects: ['rustfs', 'madmin'],
        dialect: 'rustfs',
        serviceAccountRoutes: 'singular',
        iamSurvivesRootChange: true,
      },
      // The version is read from the {info, …} wrapper this release answers (from beta.9).
      '1.0.0-rc.3': {
        version: '1.0.0-rc.3',
        dialects: ['rustfs', 'madmin'],
        dialect: 'rustfs',
        serviceAccountRoutes: 'singular',
        iamSurvivesRootChange: true,
      },
    };
    const release = stack.store.kind === 'minio' ? 'minio' : rustfsTagOf(process.env.ROTATOR_STORE_BIN ?? '');
    const expected = known[release];
    assert.ok(expected, `no expectation for store ${release}`);
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(id[k as keyof typeof id], v, k);
    assert.ok(id.detectedBy.length >= 2, 'says how it found out');
  });

  test('preflight names the service accounts whose parent is the root, never their secrets', async () => {
    const before = await activities.verifyRoot();
    const mine = generateCredentials();
    await root.addServiceAccount({
      parentUser: rootAccessKey,
      accessKey: mine.accessKey,
      secretKey: mine.secretKey,
      name: 'rotator-test-root-sa',
      description: 'rustfs-rotator integration test',
    });
    createdAccounts.push(mine.accessKey);
    const id = await activities.verifyRoot();
    const deps = id.rootDependents!;
    assert.ok(deps, 'preflight states the root dependents');
    assert.deepEqual(
      deps.serviceAccounts,
      [...before.rootDependents!.serviceAccounts, mine.accessKey].sort(),
      'the new account is named',
    );
    assert.ok(!JSON.stringify(id).includes(mine.secretKey), 'no secret in the result');
    const n = deps.serviceAccounts.length;
    assert.match(
      deps.serviceAccountsEffect,
      new RegExp(`^${n} service account\\(s\\) whose parent is the root \\(`),
    );
    assert.ok(deps.serviceAccountsEffect.includes(mine.accessKey));
    assert.match(
      deps.serviceAccountsEffect,
      id.iamSurvivesRootChange ? /keep root's rights/ : /are lost .* NOT re-created/,
    );
    assert.match(deps.sessions, /^console and STS sessions signed with the root secret end/);
    // Deleted: no longer named.
    await root.deleteServiceAccount(mine.accessKey);
    assert.ok(!(await activities.verifyRoot()).rootDependents!.serviceAccounts.includes(mine.accessKey));
  });

  let cred: Credentials;
  /**
   * Whether root may update another parent's service account: MinIO, RustFS alpha.85 and from
   * rc.2 yes (service_account.rs UpdateServiceAccount `!owner && …`); alpha.99 … rc.1 no.
   */
  let rootUpdates = true;

  test('a new key: the service account is created, no reply is decrypted', async () => {
    cred = generateCredentials();
    createdAccounts.push(cred.accessKey);
    await writeZoneSecret(cred);
    const r = await ensure();
    assert.equal(r.credential, 'service account created');
    rootUpdates = await root.updateServiceAccount(cred.accessKey, { status: 'on' }).then(
      () => true,
      (err: unknown) => {
        if (stack.store.kind !== 'rustfs' || (err as { code?: string }).code !== 'AccessDenied') throw err;
        return false;
      },
    );
    assert.equal(r.userCreated, true);
    assert.equal(r.argon2idCalls, 0);
    assert.equal((await root.infoServiceAccount(cred.accessKey)).parentUser, zoneUser);
    await eventually(
      'the new key lists the zone bucket',
      async () => (await canList(stack, cred, bucket)) === true,
    );
  });

  test('the same key again: updated in place; MinIO says whose key it is, so nothing is read', async () => {
    const r = await ensure();
    // RustFS from the 1.0 beta line lets only the parent update an account (403 to root):
    // then the store is asked whether the key already works, as it does here.
    assert.equal(
      r.credential,
      rootUpdates ? 'service account updated' : 'service account already holds this credential',
    );
    assert.equal(r.userCreated, false);
    if (stack.store.kind === 'minio') assert.equal(r.argon2idCalls, 0);
    assert.equal(await canList(stack, cred, bucket), true);
  });

  test('a new secret for the same key: the old secret stops working', async () => {
    const old = cred;
    cred = { accessKey: old.accessKey, secretKey: generateCredentials().secretKey };
    await writeZoneSecret(cred);
    assert.equal(
      (await ensure()).credential,
      rootUpdates ? 'service account updated' : 'service account recreated with the credential',
    );
    await eventually('the new secret works', async () => (await canList(stack, cred, bucket)) === true);
    await eventually('the old secret is refused', async () => (await canList(stack, old, bucket)) !== true);
  });

  test("another user's service account is never taken over", async () => {
    await root.addUser(otherUser, generateCredentials().secretKey);
    const foreign = await root.addServiceAccount({ parentUser: otherUser, ...generateCredentials() });
    createdAccounts.push(foreign.accessKey);
    await writeZoneSecret({ accessKey: foreign.accessKey, secretKey: generateCredentials().secretKey });
    const err = await conflictOf();
    assert.match(err.message, new RegExp(`belongs to "${otherUser}"`));
    // Its secret is unchanged: the owner still authenticates with it, and it is still the other user's.
    assert.notEqual(await canList(stack, foreign, bucket), 'AuthenticationFailed');
    assert.equal((await root.infoServiceAccount(foreign.accessKey)).parentUser, otherUser);
    // Why the owner is checked before updating: root's update-service-account takes any
    // account's key, whoever its parent, so updating first would have taken this one over.
    const takenOver = { accessKey: foreign.accessKey, secretKey: generateCredentials().secretKey };
    if (!rootUpdates) {
      await assert.rejects(root.updateServiceAccount(foreign.accessKey, { secretKey: takenOver.secretKey }), {
        code: 'AccessDenied',
      });
      return;
    }
    await root.updateServiceAccount(foreign.accessKey, { secretKey: takenOver.secretKey });
    await eventually(
      'the update took the account',
      async () => (await canList(stack, takenOver, bucket)) !== 'AuthenticationFailed',
    );
  });

  test("a regular user's name as the access key is refused, and that user is untouched", async () => {
    const other = { accessKey: otherUser, secretKey: generateCredentials().secretKey };
    await root.addUser(other.accessKey, other.secretKey);
    await writeZoneSecret({ accessKey: otherUser, secretKey: generateCredentials().secretKey });
    const err = await conflictOf();
    assert.match(err.message, new RegExp(`access key ${otherUser} is taken by`));
    assert.notEqual(await canList(stack, other, bucket), 'AuthenticationFailed');
  });
});
