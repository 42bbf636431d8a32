/**
 * The zone lock (its pending record) against the real apiserver, store and Temporal server:
 * created atomically, refused while its owner run is open (naming it), taken over from a
 * closed (terminated) run only after reconciling — the superseded key revoked in the store;
 * never taken over from a run of another Temporal namespace; BootstrapCluster's keyless hold.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { parseDocument } from 'yaml';
import { createActivities } from '../../src/activities';
import { type LockOwner } from '../../src/activities/locks';
import { loadInventory, type Inventory } from '../../src/inventory';
import { sandboxInventory } from '../../src/sandbox/inventory';
import { generateCredentials, type AdminClient } from '../../src/rustfs';
import { buildDeps, storeConnection } from '../../src/worker/build';
import { getStack } from '../support/stack';
import { adminKube, uniqueName } from '../support/kube';

const NAMESPACE = 'dashi-data';

describe('run locks against the real apiserver, store and Temporal', () => {
  const stack = getStack();
  const zoneName = uniqueName('lck');
  const zoneUser = `${zoneName}-user`;
  const secretName = `${zoneName}-cred`;
  const { core } = adminKube(stack);
  let dir: string;
  let inventory: Inventory;
  let client: Client;
  let root: AdminClient;
  let acts: ReturnType<typeof createActivities>;
  const runs: WorkflowHandle[] = [];

  /** A real run on the server: open until terminated (no worker serves its queue). */
  const openRun = async (): Promise<{ handle: WorkflowHandle; owner: LockOwner }> => {
    const handle = await client.workflow.start('RotateZone', {
      taskQueue: `no-worker-${zoneName}`,
      workflowId: `scheduled-rotate-zone-${zoneName}-${runs.length}`,
      args: [{ zone: zoneName }],
    });
    runs.push(handle);
    return {
      handle,
      owner: { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, workflowType: 'RotateZone' },
    };
  };
  const refusal = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
    const err = await p.then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    return err;
  };
  const accounts = async () => (await root.listServiceAccounts(zoneUser)).map((a) => a.accessKey);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-locks-'));
    const doc = parseDocument(sandboxInventory(stack));
    doc.addIn(['zones'], {
      name: zoneName,
      user: zoneUser,
      policy: { readWrite: [`${zoneName}-rw`] },
      secret: { namespace: NAMESPACE, name: secretName },
      consumers: [],
      grace: '0s',
    });
    const file = path.join(dir, 'inventory.yaml');
    fs.writeFileSync(file, doc.toString());
    inventory = await loadInventory(file);
    client = new Client({
      connection: await Connection.connect({ address: stack.temporal.address }),
      namespace: stack.temporal.namespace,
    });
    const deps = buildDeps({
      inventory,
      kube: { kubeconfig: stack.kube.kubeconfig },
      store: storeConnection(inventory),
      client,
      namespace: stack.temporal.namespace,
    });
    acts = createActivities(deps);
    const secret = await core.readNamespacedSecret({
      name: inventory.store.rootSecret.name,
      namespace: inventory.store.rootSecret.namespace,
    });
    const get = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
    root = deps.admin({ accessKey: get('access-key'), secretKey: get('secret-key') });
    const cred = generateCredentials();
    await core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: { name: secretName, namespace: NAMESPACE },
        stringData: { 'access-key': cred.accessKey, 'secret-key': cred.secretKey },
      },
    });
    await acts.ensureZoneIdentity(zoneName, 'current');
  });

  after(async () => {
    const quiet = (p: Promise<unknown>) => p.catch(() => undefined);
    for (const r of runs) await quiet(r.terminate('test done'));
    for (const k of await accounts().catch(() => [])) await quiet(root.deleteServiceAccount(k));
    await quiet(root.removeUser(zoneUser));
    await quiet(root.removeCannedPolicy(`rotator-${zoneName}`));
    for (const n of [secretName, `${secretName}-pending`])
      await quiet(core.deleteNamespacedSecret({ name: n, namespace: NAMESPACE }));
    await quiet(client.connection.close());
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let first: Awaited<ReturnType<typeof openRun>>;

  test('of two runs taking the lock at once exactly one gets it; the other is refused naming it', async () => {
    first = await openRun();
    const second = await openRun();
    const results = await Promise.allSettled([
      acts.lockZonePending(zoneName, { owner: first.owner, strategy: 'overlap' }),
      acts.lockZonePending(zoneName, { owner: second.owner, strategy: 'overlap' }),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify(results));
    const winner = results[0]!.status === 'fulfilled' ? first : second;
    const loser = winner === first ? second : first;
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    const err = failed.reason as ApplicationFailure;
    assert.equal(err.type, 'ConflictingRotation');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, new RegExp(`${winner.owner.workflowId} \\(run ${winner.owner.runId}\\)`));
    // The loser's way out (its compensation) must not delete the winner's record.
    first = winner;
    await loser.handle.terminate('lost the race');
    const record = await core.readNamespacedSecret({ name: `${secretName}-pending`, namespace: NAMESPACE });
    assert.equal(record.metadata?.annotations?.['rotator.rustfs.dev/owner-run-id'], winner.owner.runId);
  });

  test('the owner retrying its step gets its own record back', async () => {
    const again = await acts.lockZonePending(zoneName, { owner: first.owner, strategy: 'overlap' });
    assert.equal(again.found, 'own pending record (retried step)');
  });

  test('a run terminated after promoting: the next run revokes the superseded key and says so', async () => {
    const before = await acts.describeZoneSecret(zoneName);
    await acts.ensureZoneIdentity(zoneName, 'pending');
    await acts.promoteZonePending(zoneName, {
      workflowId: first.owner.workflowId,
      at: new Date().toISOString(),
    });
    const promoted = await acts.describeZoneSecret(zoneName);
    assert.notEqual(promoted.accessKey, before.accessKey);
    assert.deepEqual(
      (await accounts()).sort(),
      [before.accessKey!, promoted.accessKey!].sort(),
      'two valid keys',
    );
    await first.handle.terminate('terminated mid-rotation');

    const next = await openRun();
    const taken = await acts.lockZonePending(zoneName, { owner: next.owner, strategy: 'overlap' });
    assert.match(taken.found, /TERMINATED/);
    assert.match(taken.found, new RegExp(`superseded service account ${before.accessKey} .* revoked`));
    assert.deepEqual(await accounts(), [promoted.accessKey], 'only the key the Secret holds is left');
    assert.equal(taken.previousAccessKey, promoted.accessKey);
    const record = await core.readNamespacedSecret({ name: `${secretName}-pending`, namespace: NAMESPACE });
    assert.equal(record.metadata?.annotations?.['rotator.rustfs.dev/owner-run-id'], next.owner.runId);

    // Its own clean-up deletes only its own record: a stranger's call keeps it.
    const stranger = await openRun();
    const err = await refusal(acts.lockZonePending(zoneName, { owner: stranger.owner, strategy: 'overlap' }));
    assert.equal(err.type, 'ConflictingRotation');
    assert.match(err.message, new RegExp(next.owner.runId));
  });

  test('bootstrap sees the open holder of the zone', async () => {
    const holder = await acts.zoneHolder(zoneName);
    assert.equal(holder?.open, true);
    assert.equal(holder?.workflowId, runs.at(-2)!.workflowId);
  });

  test('root and zone exclude each other: each lock refuses while the other is held by an open run', async () => {
    const zoneHolder = runs.at(-2)!;
    const rootPending = {
      name: `${inventory.store.rootSecret.name}-pending`,
      namespace: inventory.store.rootSecret.namespace,
    };
    const rootRun = await openRun();
    const rootOwner = { ...rootRun.owner, workflowType: 'RotateRoot' };
    const err = await refusal(acts.lockRootPending({ owner: rootOwner }));
    assert.equal(err.type, 'ConflictingRotation');
    assert.match(err.message, new RegExp(`zone ${zoneName} is being rotated.*${zoneHolder.workflowId}`));
    // Refused after creating: its own root record is released again.
    await assert.rejects(core.readNamespacedSecret(rootPending));

    await zoneHolder.terminate('done with the zone');
    const root = await acts.lockRootPending({ owner: rootOwner });
    assert.equal(root.found, 'no pending record: lock taken');
    try {
      const zoneRun = await openRun();
      const zoneErr = await refusal(
        acts.lockZonePending(zoneName, { owner: zoneRun.owner, strategy: 'overlap' }),
      );
      assert.equal(zoneErr.type, 'ConflictingRotation');
      assert.match(zoneErr.message, new RegExp(`root rotation excludes every zone.*${rootRun.owner.runId}`));
    } finally {
      await core.deleteNamespacedSecret(rootPending);
    }
  });

  test("bootstrap's hold: taken over from a closed run, refuses a RotateZone while held, released only by its run", async () => {
    // A rotation terminated after taking its lock leaves a record with keys.
    const prior = await openRun();
    await acts.lockZonePending(zoneName, { owner: prior.owner, strategy: 'overlap' });
    await prior.handle.terminate('terminated holding the zone');
    const bootstrap = await openRun();
    const owner = { ...bootstrap.owner, workflowType: 'BootstrapCluster' };
    const held = await acts.holdZone(zoneName, { owner });
    assert.equal(held.heldBy, undefined);
    // Reconciled first, as RotateZone's lock does.
    assert.match(held.found, /zone held; found the record of .*TERMINATED/);
    const record = await core.readNamespacedSecret({ name: `${secretName}-pending`, namespace: NAMESPACE });
    assert.equal(record.metadata?.annotations?.['rotator.rustfs.dev/owner-run-id'], owner.runId);
    assert.deepEqual(record.data ?? {}, {}, 'a hold records no key');
    assert.equal(
      record.metadata?.annotations?.['rotator.rustfs.dev/owner-temporal-namespace'],
      stack.temporal.namespace,
    );

    const zoneRun = await openRun();
    const err = await refusal(acts.lockZonePending(zoneName, { owner: zoneRun.owner, strategy: 'overlap' }));
    assert.equal(err.type, 'ConflictingRotation');
    assert.match(err.message, new RegExp(`${owner.workflowId} \\(run ${owner.runId}\\)`));
    const again = await acts.holdZone(zoneName, { owner: zoneRun.owner });
    assert.equal(again.heldBy?.runId, owner.runId, 'another hold is refused too, naming the holder');

    assert.equal(await acts.releaseZone(zoneName, { owner: zoneRun.owner }), 'no hold of this run');
    assert.ok(await core.readNamespacedSecret({ name: `${secretName}-pending`, namespace: NAMESPACE }));
    assert.equal(await acts.releaseZone(zoneName, { owner }), 'released');
    await assert.rejects(core.readNamespacedSecret({ name: `${secretName}-pending`, namespace: NAMESPACE }));
    const taken = await acts.lockZonePending(zoneName, { owner: zoneRun.owner, strategy: 'overlap' });
    assert.equal(taken.found, 'no pending record: lock taken');
    await zoneRun.handle.terminate('done with the zone');
  });

  test('a record held from another Temporal namespace is never reconciled from this one, only reported', async () => {
    // A worker of another namespace (a DR cluster) with the same Kubernetes credentials: its
    // client is never asked about its own runs by this namespace's activities.
    const other = 'rotator-dr-elsewhere';
    const drActs = createActivities(
      buildDeps({
        inventory,
        kube: { kubeconfig: stack.kube.kubeconfig },
        store: storeConnection(inventory),
        client: new Client({ connection: client.connection, namespace: other }),
        namespace: other,
      }),
    );
    const pendingRef = { name: `${secretName}-pending`, namespace: NAMESPACE };
    // The previous test's last run was terminated holding the zone; its record is removed by
    // hand so that the DR run takes a free zone.
    await core.deleteNamespacedSecret(pendingRef);
    const drOwner = { workflowId: 'rotate-zone-in-dr', runId: 'dr-run-1', workflowType: 'RotateZone' };
    const drLock = await drActs.lockZonePending(zoneName, { owner: drOwner, strategy: 'overlap' });
    await acts.ensureZoneIdentity(zoneName, 'pending');
    const keysBefore = (await accounts()).sort();
    assert.ok(keysBefore.includes(drLock.accessKey), 'the DR run issued its key');
    const recordBefore = await core.readNamespacedSecret(pendingRef);
    assert.equal(recordBefore.metadata?.annotations?.['rotator.rustfs.dev/owner-temporal-namespace'], other);

    // No run of that ID exists in this namespace: before, that made the record abandoned.
    const local = await openRun();
    const err = await refusal(acts.lockZonePending(zoneName, { owner: local.owner, strategy: 'overlap' }));
    assert.equal(err.type, 'ConflictingRotation');
    assert.match(
      err.message,
      new RegExp(`rotate-zone-in-dr \\(run dr-run-1\\) in Temporal namespace ${other}`),
    );
    assert.match(err.message, /never reconciled from here/);
    assert.match(err.message, new RegExp(`rotator status --namespace ${other} rotate-zone-in-dr`));
    const hold = await acts.holdZone(zoneName, {
      owner: { ...local.owner, workflowType: 'BootstrapCluster' },
    });
    assert.equal(hold.heldBy?.namespace, other);
    assert.equal(hold.heldBy?.status, 'IN_OTHER_NAMESPACE');

    const recordAfter = await core.readNamespacedSecret(pendingRef);
    assert.equal(
      recordAfter.metadata?.resourceVersion,
      recordBefore.metadata?.resourceVersion,
      'record untouched',
    );
    assert.deepEqual((await accounts()).sort(), keysBefore, 'no key revoked');
    await core.deleteNamespacedSecret(pendingRef);
  });
});
