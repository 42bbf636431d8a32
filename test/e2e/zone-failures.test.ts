import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { type WorkflowFailedError } from '@temporalio/client';
import { signRequest } from '../../src/rustfs';
import { freePort } from '../../src/sandbox/ports';
import {
  revokeNowUpdate,
  statusQuery,
  approveUpdate,
  stopRetryingUpdate,
} from '../../src/workflows/definitions';
import { type WorkflowStatus } from '../../src/workflows/types';
import { adminKube, eventually, readSecretData } from '../support/kube';
import {
  assertNoSecretsInHistory,
  collectSecretValues,
  startRotator,
  type Rotator,
} from '../support/rotator';
import { getStack } from '../support/stack';
import { canList, creds, storeAdmin } from '../support/store';

const stack = getStack();
const secrets = new Set<string>();
let rotator: Rotator;

const servingSecret = () => readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving');

async function serviceAccountsOf(user: string): Promise<string[]> {
  const root = creds(await readSecretData(stack, 'dashi-platform', 'rustfs-root'));
  const admin = storeAdmin(stack, root);
  return (await admin.listServiceAccounts(user)).map((a) => a.accessKey).sort();
}

/**
 * Group operations the rotator itself never needs, signed like any admin call, on the admin
 * prefix every release of the store serves (alpha.85 RustFS has no /minio/admin/v3).
 */
async function adminCall(
  method: string,
  op: string,
  query: Record<string, string>,
  body?: object,
): Promise<void> {
  const root = creds(await readSecretData(stack, 'dashi-platform', 'rustfs-root'));
  const prefix = stack.store.kind === 'rustfs' ? '/rustfs/admin/v3' : '/minio/admin/v3';
  const url = new URL(`${stack.store.endpoint}${prefix}/${op}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const payload = body ? new TextEncoder().encode(JSON.stringify(body)) : undefined;
  const headers = await signRequest({ method, url, body: payload }, { credentials: root });
  const res = await fetch(url, { method, headers, body: payload });
  assert.equal(res.status, 200, `${op}: HTTP ${res.status} ${await res.text()}`);
}

const pendingRecord = () =>
  readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving-pending').catch(() => undefined);

/**
 * A failed run whose undo did not complete keeps its pending record (the only place both keys
 * are written down). The next RotateZone finds it, reconciles it on purpose — the key the
 * Secret does not hold is revoked unless a running pod may hold it — and says so in its lock
 * step; that run then rotates as usual. Returns what the lock step found.
 */
async function reconcileByNextRun(): Promise<string> {
  const handle = await rotator.client.workflow.start('RotateZone', {
    taskQueue: rotator.taskQueue,
    workflowId: 'rotate-zone-serving',
    args: [{ zone: 'serving', grace: '0s' }],
  });
  assert.equal((await handle.result()).outcome, 'completed');
  const status = await handle.query(statusQuery);
  const lock = status.steps.find((s) => s.name.startsWith('take the zone lock'));
  assert.equal(lock?.state, 'done');
  assert.equal(await pendingRecord(), undefined, 'the reconciling run cleaned up after itself');
  return lock.detail ?? '';
}

/** Runs RotateZone serving on `r` and returns the failure it ends with. */
async function failingRotation(
  r: Rotator,
  input: object = {},
): Promise<{ message: string; type?: string; status: WorkflowStatus }> {
  const handle = await r.client.workflow.start('RotateZone', {
    taskQueue: r.taskQueue,
    workflowId: 'rotate-zone-serving',
    args: [{ zone: 'serving', grace: '0s', ...input }],
  });
  try {
    await handle.result();
  } catch (err) {
    const cause = (err as WorkflowFailedError).cause as { message: string; type?: string };
    return { message: cause.message, type: cause.type, status: await handle.query(statusQuery) };
  }
  throw new Error('the rotation was expected to fail');
}

/** What must hold after any failed rotation: consumers keep the credential they had and it works. */
async function assertConsumersKept(before: Record<string, string>): Promise<void> {
  const after = await servingSecret();
  assert.equal(after['access-key'], before['access-key'], 'the zone Secret holds the previous credential');
  assert.equal(after['secret-key'], before['secret-key']);
  assert.equal(await canList(stack, creds(after)), true, 'consumers still work');
}

/** And after one whose undo completed: nothing is left over either. */
async function assertNothingLost(before: Record<string, string>, accountsBefore: string[]): Promise<void> {
  await assertConsumersKept(before);
  assert.equal(await pendingRecord(), undefined, 'the pending Secret is cleaned up');
  assert.deepEqual(
    await serviceAccountsOf('dashi-serving-reader'),
    accountsBefore,
    'the new key was removed from the store',
  );
}

describe('RotateZone failure injection: compensation leaves consumers working', () => {
  before(async () => {
    rotator = await startRotator(stack, { grace: '0s' });
    await rotator.client.workflow.execute('BootstrapCluster', {
      taskQueue: rotator.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
    await collectSecretValues(stack, secrets);
  });
  after(async () => {
    await rotator?.close();
  });

  test('smoke mismatch (the zone user gained a broader policy through a group) → new key removed, Secret untouched', async () => {
    const before = await servingSecret();
    const accounts = await serviceAccountsOf('dashi-serving-reader');
    // Drift a real operator could cause: the zone user joins a group with readwrite on
    // everything, so the policy conformance smoke sees access it must not have.
    await adminCall(
      'PUT',
      'update-group-members',
      {},
      {
        group: 'rotator-test-broad',
        members: ['dashi-serving-reader'],
        groupStatus: 'enabled',
        isRemove: false,
      },
    );
    await adminCall('PUT', 'set-user-or-group-policy', {
      policyName: 'readwrite',
      userOrGroup: 'rotator-test-broad',
      isGroup: 'true',
    });
    try {
      const failure = await failingRotation(rotator);
      assert.equal(failure.type, 'RotationFailed');
      assert.match(
        failure.message,
        /smoke of zone serving \(pending credential\) failed \d+ of \d+ cells: .*expected deny, got allow/,
      );
      assert.match(failure.message, /Compensation completed/);
      assert.ok(
        failure.status.steps.some(
          (s) => s.name === 'compensate: remove the new credential from the store' && s.state === 'done',
        ),
      );
      assert.ok(
        !failure.status.steps.some((s) => s.name.startsWith('promote')),
        'the Secret was never promoted',
      );
    } finally {
      await adminCall(
        'PUT',
        'update-group-members',
        {},
        {
          group: 'rotator-test-broad',
          members: ['dashi-serving-reader'],
          groupStatus: 'enabled',
          isRemove: true,
        },
      );
    }
    await assertNothingLost(before, accounts);
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, ['rotate-zone-serving'], secrets);
  });

  test('admin API down → retried (shown while it lasts) until on-call stops it, then the undo retried until stopped too; its failure is reported with where the keys are, the record is kept for the next run, consumers unaffected', async () => {
    const before = await servingSecret();
    const accounts = await serviceAccountsOf('dashi-serving-reader');
    const down = await startRotator(stack, {
      grace: '0s',
      storeEndpoint: `http://127.0.0.1:${await freePort()}`,
      codec: rotator.codec,
    });
    try {
      const handle = await down.client.workflow.start('RotateZone', {
        taskQueue: down.taskQueue,
        workflowId: 'rotate-zone-serving',
        args: [{ zone: 'serving', grace: '0s' }],
      });
      // The step is retried within its budget (minutes) and says so; on-call ends it.
      const retrying = await eventually(
        'the failing step shown as retried',
        async () => (await handle.query(statusQuery)).retrying?.[0],
      );
      assert.equal(retrying.kind, 'quick');
      assert.equal(retrying.step, 'issue new service account');
      assert.match(retrying.lastError, /the store is unreachable \(ECONNREFUSED\)/);
      await handle.executeUpdate(stopRetryingUpdate, { args: [{ by: 'e2e', reason: 'store gone' }] });
      // The undo is retried until it succeeds or a person decides: here, a person.
      const undo = await eventually('the undo shown as retried', async () =>
        (await handle.query(statusQuery)).retrying?.find((r) => r.kind === 'compensation'),
      );
      assert.equal(undo.step, 'compensate: remove the new credential from the store');
      await handle.executeUpdate(stopRetryingUpdate, { args: [{ by: 'e2e' }] });
      const failure = await handle.result().then(
        () => assert.fail('the rotation was expected to fail'),
        async (err: unknown) => ({
          message: ((err as WorkflowFailedError).cause as { message: string }).message,
          status: await handle.query(statusQuery),
        }),
      );
      assert.match(
        failure.message,
        /retries stopped by e2e \(store gone\): .*the store is unreachable \(ECONNREFUSED\)/,
      );
      assert.match(failure.message, /Compensation FAILED for: remove the new credential from the store/);
      // The record is the only place both keys are written down: kept, and the failure says where each key is.
      assert.deepEqual(
        failure.status.compensationErrors.map((e) => e.replace(/:.*/, '')),
        ['remove the new credential from the store', 'delete the pending Secret'],
      );
      assert.match(failure.status.compensationErrors[1]!, /skipped/);
      assert.match(
        failure.message,
        /Where the keys are: Secret dashi-serving\/dashi-rustfs-serving holds the previous \S+ sha256:\w+; .*new \S+ sha256:\w+ still valid; the pending record dashi-serving\/dashi-rustfs-serving-pending is kept with both/,
      );
    } finally {
      await down.close();
    }
    // Nothing reached the store, and the Secret was never touched.
    await assertConsumersKept(before);
    assert.deepEqual(await serviceAccountsOf('dashi-serving-reader'), accounts, 'no key was added');
    const record = await pendingRecord();
    assert.ok(record, 'the pending record is kept');
    assert.match(
      await reconcileByNextRun(),
      /found the record of .*rotate-zone-serving.*FAILED.*superseded key \S+ sha256:\w+ is not in the store/,
    );
    assert.ok(!(await serviceAccountsOf('dashi-serving-reader')).includes(record['access-key']!));
  });

  test('Secret patch denied by RBAC (403) → typed, non-retried failure naming what is missing; compensated', async () => {
    const { core, kc } = adminKube(stack);
    const rbac = kc.makeApiClient((await import('@kubernetes/client-node')).RbacAuthorizationV1Api);
    const ns = 'dashi-serving';
    const name = 'rotator-no-secret-update';
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
    await rbac.createClusterRole({
      body: {
        metadata: { name },
        rules: [
          { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'delete'] },
          {
            apiGroups: ['apps'],
            resources: ['deployments', 'statefulsets', 'daemonsets'],
            verbs: ['get', 'list', 'watch', 'patch'],
          },
          { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
          { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['list'] },
          { apiGroups: [''], resources: ['events'], verbs: ['create'] },
        ],
      },
    });
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
      },
    });
    const token = await core.createNamespacedServiceAccountToken({
      name,
      namespace: ns,
      body: {
        spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 },
      },
    });
    const before = await servingSecret();
    const accounts = await serviceAccountsOf('dashi-serving-reader');
    const limited = await startRotator(stack, {
      grace: '0s',
      codec: rotator.codec,
      kube: { server: stack.kube.server, token: token.status!.token, caFile: stack.kube.caFile },
    });
    try {
      const failure = await failingRotation(limited);
      assert.match(
        failure.message,
        /RBAC denied: cannot update secrets "dashi-rustfs-serving" in namespace "dashi-serving"/,
      );
      const promote = failure.status.steps.find((s) => s.name.startsWith('promote'))!;
      assert.equal(promote.state, 'failed');
      assert.equal(failure.status.compensationErrors.length, 0, failure.status.compensationErrors.join('; '));
    } finally {
      await limited.close();
      await rbac.deleteClusterRoleBinding({ name });
      await rbac.deleteClusterRole({ name });
      await core.deleteNamespacedServiceAccount({ name, namespace: ns });
    }
    await assertNothingLost(before, accounts);
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, ['rotate-zone-serving'], secrets);
  });

  test('rollout stuck (new pods never Ready) → Secret restored, old pods keep serving; the new key and its record stay until the next run revokes it', async () => {
    const { apps } = adminKube(stack);
    const patch = (body: object) =>
      apps.patchNamespacedDeployment(
        { name: 'titiler', namespace: 'dashi-serving', body },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    const before = await servingSecret();
    await patch({
      spec: {
        progressDeadlineSeconds: 2,
        template: { metadata: { annotations: { 'sandbox.rotator.dev/never-ready': 'true' } } },
      },
    });
    try {
      await eventually('titiler to exceed its progress deadline', async () => {
        const d = await apps.readNamespacedDeployment({ name: 'titiler', namespace: 'dashi-serving' });
        return d.status?.conditions?.some((c) => c.reason === 'ProgressDeadlineExceeded');
      });
      const failure = await failingRotation(rotator);
      assert.match(failure.message, /exceeded its progress deadline/);
      const restore = failure.status.steps.find(
        (s) => s.name === 'compensate: restore the previous Secret and restart consumers',
      );
      assert.ok(restore, 'the Secret restore ran');
      // The restore's own wait hits the same stuck rollout: reported, not swallowed.
      assert.match(
        failure.status.compensationErrors.join('; '),
        /restore the previous Secret and restart consumers: .*progress deadline/,
      );
      // Pods may hold the new key while the restore has not rolled out: it is not deleted, and
      // neither is the record of it.
      assert.match(
        failure.status.compensationErrors.join('; '),
        /remove the new credential from the store: skipped \(restore the previous Secret and restart consumers did not complete\)/,
      );
      assert.match(
        failure.message,
        /new \S+ sha256:\w+ still valid; the pending record dashi-serving\/dashi-rustfs-serving-pending is kept with both/,
      );
    } finally {
      await apps.patchNamespacedDeployment(
        {
          name: 'titiler',
          namespace: 'dashi-serving',
          body: [
            { op: 'remove', path: '/spec/template/metadata/annotations/sandbox.rotator.dev~1never-ready' },
            { op: 'replace', path: '/spec/progressDeadlineSeconds', value: 600 },
          ],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      );
      await eventually('titiler to roll out again', async () => {
        const d = await apps.readNamespacedDeployment({ name: 'titiler', namespace: 'dashi-serving' });
        return (
          d.status?.updatedReplicas === 2 &&
          d.status.availableReplicas === 2 &&
          (d.status.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0)
        );
      });
    }
    await assertConsumersKept(before);
    const record = await pendingRecord();
    assert.ok(record, 'the pending record is kept');
    const stray = record['access-key']!;
    assert.ok((await serviceAccountsOf('dashi-serving-reader')).includes(stray), 'the new key is kept');
    // Every consumer rolled onto the restored Secret: the next run revokes the stray key.
    assert.match(
      await reconcileByNextRun(),
      new RegExp(
        `found the record of .*FAILED.*holds its previous key.*superseded service account ${stray} \\S+ revoked`,
      ),
    );
    assert.ok(!(await serviceAccountsOf('dashi-serving-reader')).includes(stray), 'the stray key is gone');
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, ['rotate-zone-serving'], secrets);
  });

  test('worker stopped mid-rotation (grace wait, approval gate) and a new worker finishes the runs', async () => {
    const handle = await rotator.client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving', grace: '1h' }],
    });
    await eventually(
      'the grace period',
      async () => (await handle.query(statusQuery)).phase === 'waiting-grace',
      120_000,
    );
    await rotator.stopWorker();
    await rotator.restartWorker();
    await handle.executeUpdate(revokeNowUpdate, { args: [{ by: 'after-restart' }] });
    assert.equal((await handle.result()).outcome, 'completed');
    assert.equal(await canList(stack, creds(await servingSecret())), true);

    // A RotateRoot awaiting approval survives a worker restart, and holds nothing meanwhile: a
    // zone rotation still runs (emergencies first).
    const rootRun = await rotator.client.workflow.start('RotateRoot', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-root',
      args: [{}],
    });
    await eventually(
      'approval gate',
      async () => (await rootRun.query(statusQuery)).phase === 'awaiting-approval',
    );
    await rotator.stopWorker();
    await rotator.restartWorker();
    const zone = await rotator.client.workflow.execute('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving', grace: '0s' }],
    });
    assert.equal(zone.outcome, 'completed');
    assert.equal((await rootRun.query(statusQuery)).phase, 'awaiting-approval');
    await rootRun.executeUpdate(approveUpdate, { args: [{ by: 'after-restart' }] });
    assert.equal((await rootRun.result()).outcome, 'completed');
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, ['rotate-zone-serving', 'rotate-root'], secrets);
  });
});
