// RotateRoot on the real stack: dry run, approval, the store's restart with the new root, pauses
// with resume and rollback (the node agent holds the store's start), the zones still working.
// PRIVATE (scripts/test-lanes.mjs): the root, the store process, the node agent and the zones are
// a dashi platform of this file's own (test/support/private-sandbox.ts).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { createS3, type Credentials } from '../../src/rustfs';
import { approveUpdate, resumeUpdate, rollbackUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult, type WorkflowStatus } from '../../src/workflows/types';
import { adminKube, eventually, readSecretData } from '../support/kube';
import {
  assertNoSecretsInHistory,
  collectSecretValues,
  nodeAgent,
  startRotator,
  type Rotator,
} from '../support/rotator';
import { privateSandbox, type PrivateSandbox } from '../support/private-sandbox';
import { getStack } from '../support/stack';
import { type SandboxState } from '../../src/sandbox/state';
import { adminWorks as adminWorksFor } from '../support/store';

const shared = getStack();
let box: PrivateSandbox;
let stack: SandboxState;
let agent: ReturnType<typeof nodeAgent>;
/** The private name of a seed namespace (dashi-platform, dashi-data, dashi-serving). */
const ns = (seed: 'dashi-platform' | 'dashi-data' | 'dashi-serving') => box.rename(seed);
const secrets = new Set<string>();
let rotator: Rotator;

const creds = (d: Record<string, string>): Credentials => ({
  accessKey: d['access-key']!,
  secretKey: d['secret-key']!,
});
const root = async () => creds(await readSecretData(stack, ns('dashi-platform'), 'rustfs-root'));

const adminWorks = (c: Credentials) => adminWorksFor(stack, c);

async function zonesWork(): Promise<void> {
  for (const [seedNs, name, bucket] of [
    ['dashi-data', 'dashi-rustfs-ingest', 'landing'],
    ['dashi-data', 'dashi-rustfs-pipeline', 'processed'],
    ['dashi-serving', 'dashi-rustfs-serving', 'curated'],
  ] as const) {
    const namespace = ns(seedNs);
    const s3 = createS3({
      endpoint: stack.store.endpoint,
      credentials: creds(await readSecretData(stack, namespace, name)),
      maxAttempts: 1,
    });
    try {
      await s3.listObjects(bucket);
    } finally {
      s3.close();
    }
  }
}

/** The pod templates of the zones' Deployment consumers: RotateRoot must not restart them. */
async function consumerTemplates(): Promise<Record<string, unknown>> {
  const { apps } = adminKube(stack);
  const out: Record<string, unknown> = {};
  for (const namespace of [ns('dashi-serving'), ns('dashi-data')]) {
    for (const d of (await apps.listNamespacedDeployment({ namespace })).items)
      out[`${namespace}/${d.metadata!.name}`] = d.spec?.template.metadata?.annotations ?? {};
  }
  return out;
}

async function waitPhase(
  handle: WorkflowHandle,
  phase: WorkflowStatus['phase'],
  timeoutMs = 60_000,
): Promise<WorkflowStatus> {
  return eventually(
    `phase ${phase}`,
    async () => {
      const s = await handle.query(statusQuery);
      if (s.phase === 'failed' && phase !== 'failed') throw new Error(`workflow failed: ${s.lastError}`);
      return s.phase === phase ? s : undefined;
    },
    timeoutMs,
  );
}

function startRoot(input: object) {
  return rotator.client.workflow.start('RotateRoot', {
    taskQueue: rotator.taskQueue,
    workflowId: 'rotate-root',
    args: [input],
  });
}

describe('RotateRoot against the real stack', () => {
  before(async () => {
    box = await privateSandbox(shared, 'root-rotation');
    stack = box.state;
    agent = nodeAgent(stack);
    rotator = await startRotator(stack, { grace: '0s', inventorySource: box.inventorySource });
    await rotator.client.workflow.execute('BootstrapCluster', {
      taskQueue: rotator.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
    await collectSecretValues(stack, secrets, box.namespaces);
  });
  beforeEach(() => agent.reset());
  after(async () => {
    // Leave no rotation running for the files after this one.
    await rotator?.client.workflow
      .getHandle('rotate-root')
      .terminate('test cleanup')
      .catch(() => undefined);
    await agent?.reset().catch(() => undefined);
    await rotator?.close();
    await box?.close();
  });

  test('dry run: the plan names the restart and the downtime, and nothing changes', async () => {
    const before = await root();
    const result = (await rotator.client.workflow.execute('RotateRoot', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-root',
      args: [{ dryRun: true, restartTimeout: '45s' }],
    })) as WorkflowResult;
    assert.equal(result.outcome, 'planned');
    assert.match(
      result.plan!.expectedDowntime,
      new RegExp(`full store downtime while StatefulSet/${ns('dashi-platform')}/rustfs restarts.*45s`),
    );
    assert.ok(
      result.plan!.actions.some(
        (a) => a.action === 'restart' && a.target === `StatefulSet/${ns('dashi-platform')}/rustfs`,
      ),
    );
    assert.equal(result.plan!.actions.filter((a) => a.target.startsWith('zone ')).length, 3);
    assert.deepEqual(await root(), before);
    const zonePlan = (await rotator.client.workflow.execute('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving', strategy: 'in-place', dryRun: true }],
    })) as WorkflowResult;
    assert.match(
      zonePlan.plan!.expectedDowntime,
      /consumers fail from the store change until their restarted pods are ready/,
    );
  });

  test('happy path: approval gate, restart, only the new root works, every zone still works unrestarted', async () => {
    const before = await root();
    const templatesBefore = await consumerTemplates();
    const handle = await startRoot({ restartTimeout: '30s' });
    const gate = await waitPhase(handle, 'awaiting-approval');
    assert.deepEqual(gate.awaiting, ['approve']);
    // Updates that do not fit the phase are rejected with the reason.
    await assert.rejects(
      () => handle.executeUpdate(rollbackUpdate, { args: [{}] }),
      (err: Error) =>
        /rollback is accepted only in phase "paused"; phase is "awaiting-approval"/.test(String(err.cause)),
    );
    // Awaiting approval it holds nothing, so zone rotations still run (test/e2e/emergencies.test.ts
    // runs one to completion): the root's pending record is taken only once it is approved.
    await assert.rejects(
      () => readSecretData(stack, ns('dashi-platform'), 'rustfs-root-pending'),
      /404|not found/i,
    );
    assert.match(
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'e2e-oncall', reason: 'test' }] }),
      /approved by e2e-oncall/,
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    const after = await root();
    assert.equal(after.accessKey, before.accessKey);
    assert.notEqual(after.secretKey, before.secretKey);
    assert.equal(await adminWorks(after), true);
    assert.equal(await adminWorks(before), 'AuthenticationFailed');
    await zonesWork();
    assert.deepEqual(await consumerTemplates(), templatesBefore, 'no consumer was restarted');
    await assert.rejects(
      () => readSecretData(stack, ns('dashi-platform'), 'rustfs-root-pending'),
      /404|not found/i,
    );
    const status = await handle.query(statusQuery);
    assert.ok(status.steps.some((s) => s.name === 'approved by e2e-oncall: test'));
    // What preflight found decides the rest: a store that lost IAM gets its policies back
    // before any zone, and the run reports how long zone keys were refused.
    assert.equal(result.root?.store?.kind, stack.store.kind);
    const names = status.steps.map((s) => s.name);
    const policies = names.findIndex((n) => n.startsWith('re-create every zone policy'));
    const firstZone = names.findIndex((n) => n.startsWith('re-ensure zone '));
    if (result.root?.store?.iamSurvivesRootChange === false) {
      assert.ok(policies >= 0 && policies < firstZone, `policies first: ${names.join(' | ')}`);
      assert.equal(typeof result.root.zoneKeysRefusedMs, 'number');
    } else {
      assert.equal(policies, -1);
      assert.equal(result.root?.zoneKeysRefusedMs, undefined);
    }
    await collectSecretValues(stack, secrets, box.namespaces);
    secrets.add(before.secretKey);
    await assertNoSecretsInHistory(rotator, ['rotate-root'], secrets);
  });

  test('restart slower than the window → paused → rollback: the old root works again, every zone works', async () => {
    const before = await root();
    // The restarted store stays down until its pod is replaced by the rollback's restart.
    await agent.hold();
    const handle = await startRoot({ approve: true, restartTimeout: '3s', pauseTimeout: '10m' });
    const paused = await waitPhase(handle, 'paused');
    const held = await agent.held();
    assert.deepEqual(paused.awaiting, ['resume', 'rollback']);
    assert.match(paused.pauseReason!, /did not come back with root sha256:[0-9a-f]{12} within 3s/);
    await collectSecretValues(stack, secrets, box.namespaces);
    assert.match(
      await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'e2e-oncall' }] }),
      /rolling back/,
    );
    await assert.rejects(
      () => handle.result(),
      (err: WorkflowFailedError) => {
        assert.equal((err.cause as { type?: string }).type, 'RolledBack');
        assert.match(String((err.cause as Error).message), /rollback requested by e2e-oncall/);
        return true;
      },
    );
    const after = await root();
    assert.equal(after.secretKey, before.secretKey, 'the previous root is back in the Secret');
    await eventually('the old root to work again', async () => (await adminWorks(before)) === true, 60_000);
    assert.notEqual(
      (await agent.state()).podUid,
      held.podUid,
      'the store runs for the pod the rollback restarted',
    );
    await zonesWork();
    assert.equal((await handle.query(statusQuery)).phase, 'rolled-back');
    await assertNoSecretsInHistory(rotator, ['rotate-root'], secrets);
  });

  test('paused with no answer → automatic rollback at pauseTimeout', async () => {
    const before = await root();
    // Held until the automatic rollback's restart replaces the pod.
    await agent.hold();
    const handle = await startRoot({ approve: true, restartTimeout: '2s', pauseTimeout: '3s' });
    await assert.rejects(
      () => handle.result(),
      (err: WorkflowFailedError) => /automatic rollback/.test(String((err.cause as Error).message)),
    );
    assert.equal((await root()).secretKey, before.secretKey);
    await eventually('the old root to work again', async () => (await adminWorks(before)) === true, 60_000);
    await zonesWork();
    await collectSecretValues(stack, secrets, box.namespaces);
    await assertNoSecretsInHistory(rotator, ['rotate-root'], secrets);
  });

  test('paused → resume → the next window sees the store back, rotation completes', async () => {
    const before = await root();
    await agent.hold();
    const handle = await startRoot({ approve: true, restartTimeout: '3s', pauseTimeout: '10m' });
    await waitPhase(handle, 'paused');
    await agent.held();
    await collectSecretValues(stack, secrets, box.namespaces);
    // The store comes back only now; on-call resumes once it is back: the next window must
    // see it. (How long the start takes differs by store — an unoptimised RustFS takes
    // seconds more than MinIO.)
    await agent.release();
    await eventually(
      'the store back with the new root',
      async () => (await adminWorks(await root())) === true,
      60_000,
    );
    assert.match(
      await handle.executeUpdate(resumeUpdate, { args: [{ by: 'e2e-oncall' }] }),
      /another restart window/,
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    const after = await root();
    assert.notEqual(after.secretKey, before.secretKey);
    assert.equal(await adminWorks(after), true);
    await zonesWork();
    const status = await handle.query(statusQuery);
    assert.ok(status.steps.some((s) => s.name === 'resumed by e2e-oncall'));
    await collectSecretValues(stack, secrets, box.namespaces);
    await assertNoSecretsInHistory(rotator, ['rotate-root'], secrets);
  });

  test('worker stopped while it waits for the restarted store; a new worker resumes the wait and completes', async () => {
    const before = await root();
    await agent.hold();
    const handle = await startRoot({ approve: true, restartTimeout: '90s' });
    await eventually('the store wait to start', async () =>
      (await handle.query(statusQuery)).step?.startsWith('wait for the store with the new root'),
    );
    // The store stays down while the worker goes: only the new worker's wait can see it back.
    await agent.held();
    await rotator.stopWorker();
    await rotator.restartWorker();
    await agent.release();
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    const after = await root();
    assert.notEqual(after.secretKey, before.secretKey);
    assert.equal(await adminWorks(after), true);
    await zonesWork();
    await collectSecretValues(stack, secrets, box.namespaces);
    await assertNoSecretsInHistory(rotator, ['rotate-root'], secrets);
  });

  test('a failed store restart (crash loop) pauses and rolls back; consumers never lost access', async () => {
    const before = await root();
    await agent.behaviour({ failCount: 1 });
    const handle = await startRoot({ approve: true, restartTimeout: '3s', pauseTimeout: '2s' });
    await assert.rejects(
      () => handle.result(),
      (err: WorkflowFailedError) => /automatic rollback/.test(String((err.cause as Error).message)),
    );
    await eventually('the old root to work again', async () => (await adminWorks(before)) === true, 60_000);
    await zonesWork();
    await collectSecretValues(stack, secrets, box.namespaces);
    await assertNoSecretsInHistory(rotator, ['rotate-root'], secrets);
  });
});
