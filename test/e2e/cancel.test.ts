// Cancel on the real stack, as on-call does it (the Web UI's "Request Cancellation" sends the
// same RequestCancelWorkflowExecution as the client here): a paused RotateRoot and a
// RotateZone in its grace wait each end CANCELED with what they undid, every zone key works,
// no `-pending` Secret remains, and `rotator audit` reports no finding.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { type AuditReport } from '../../src/cli/audit';
import { type Timeline } from '../../src/cli/history';
import { createS3 } from '../../src/rustfs';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowStatus } from '../../src/workflows/types';
import { json, runCli, startCliWorker, type CliFixture } from '../support/cli';
import { eventually, readSecretData } from '../support/kube';
import { nodeAgent, waitPhase } from '../support/rotator';
import { getStack } from '../support/stack';
import { adminWorks, creds, storeAdmin } from '../support/store';

const stack = getStack();
let fx: CliFixture;
const cli = (...args: string[]) => runCli(args, fx.env);

const ZONE_SECRETS = [
  ['dashi-data', 'dashi-rustfs-ingest', 'landing'],
  ['dashi-data', 'dashi-rustfs-pipeline', 'processed'],
  ['dashi-serving', 'dashi-rustfs-serving', 'curated'],
] as const;

const agent = nodeAgent(stack);

const gone = (namespace: string, name: string) =>
  readSecretData(stack, namespace, name).then(
    () => false,
    () => true,
  );

/** Every zone's key lists its bucket, and no `-pending` Secret is left. */
async function zonesWorkAndNothingPending(): Promise<void> {
  for (const [ns, name, bucket] of ZONE_SECRETS) {
    const s3 = createS3({
      endpoint: stack.store.endpoint,
      credentials: creds(await readSecretData(stack, ns, name)),
      maxAttempts: 1,
    });
    try {
      await s3.listObjects(bucket);
    } finally {
      s3.close();
    }
    assert.ok(await gone(ns, `${name}-pending`), `${ns}/${name}-pending is gone`);
  }
  assert.ok(await gone('dashi-platform', 'rustfs-root-pending'), 'rustfs-root-pending is gone');
}

async function auditClean(): Promise<void> {
  const run = await cli('audit', '--json');
  const report = json<AuditReport>(run);
  assert.deepEqual(
    report.findings.map((f) => f.message),
    [],
    'rotator audit reports no finding',
  );
}

async function canceledRun(handle: WorkflowHandle): Promise<WorkflowStatus> {
  await assert.rejects(handle.result(), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError, String(err));
    assert.ok(err.cause instanceof CancelledFailure, `ends canceled, not: ${String(err.cause)}`);
    return true;
  });
  assert.equal((await handle.describe()).status.name, 'CANCELLED');
  const status = await handle.query(statusQuery);
  assert.equal(status.phase, 'canceled');
  assert.deepEqual(status.compensationErrors, []);
  return status;
}

async function historyOf(id: string): Promise<Timeline> {
  const run = await cli('history', id, '--json');
  assert.equal(run.code, 0, run.stderr);
  return json<Timeline>(run);
}

describe('cancel on the real stack', () => {
  before(async () => {
    fx = await startCliWorker(stack, { grace: '1h' });
    await fx.worker.client.workflow.execute('BootstrapCluster', {
      taskQueue: fx.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
    await agent.reset();
  });
  after(async () => {
    await agent.reset().catch(() => undefined);
    await fx?.close();
  });

  test('a paused RotateRoot: rolled back to the previous root, CANCELED, zones work, audit clean', async () => {
    const before = creds(await readSecretData(stack, 'dashi-platform', 'rustfs-root'));
    // The store stays down past the restart window (until the undo's restart replaces its
    // pod): the run pauses.
    await agent.hold();
    const handle = await fx.worker.client.workflow.start('RotateRoot', {
      taskQueue: fx.taskQueue,
      workflowId: 'rotate-root',
      args: [{ approve: true, restartTimeout: '3s', pauseTimeout: '10m' }],
    });
    const paused = await waitPhase(handle, 'paused', 120_000);
    await agent.held();
    assert.match(paused.onCancel!, /^undoes: roll back to the previous root; delete the pending root Secret/);
    await handle.cancel();
    const status = await canceledRun(handle);
    assert.equal(
      status.summary,
      'canceled; undone: roll back to the previous root; delete the pending root Secret',
    );

    const now = creds(await readSecretData(stack, 'dashi-platform', 'rustfs-root'));
    assert.equal(now.secretKey, before.secretKey, 'the previous root is back in the Secret');
    await eventually(
      'the previous root to work',
      async () => (await adminWorks(stack, before)) === true,
      60_000,
    );
    await zonesWorkAndNothingPending();
    await auditClean();

    const timeline = await historyOf('rotate-root');
    assert.equal(timeline.outcome, 'canceled');
    assert.equal(
      timeline.outcomeDetail,
      'undone: roll back to the previous root; delete the pending root Secret',
    );
    assert.ok(timeline.entries.some((e) => e.kind === 'cancel-request'));
    assert.ok(timeline.entries.some((e) => e.name.startsWith('restoreRootPrevious(')));
    const text = await cli('history', 'rotate-root');
    assert.match(text.stdout, /outcome: +canceled — undone: roll back to the previous root/);
  });

  test('a RotateZone in its grace wait: consumers back on the previous key, new key deleted, CANCELED, audit clean', async () => {
    const before = await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving');
    const root = creds(await readSecretData(stack, 'dashi-platform', 'rustfs-root'));
    const admin = storeAdmin(stack, root);
    const accounts = async () =>
      (await admin.listServiceAccounts('dashi-serving-reader')).map((a) => a.accessKey).sort();
    const accountsBefore = await accounts();
    const handle = await fx.worker.client.workflow.start('RotateZone', {
      taskQueue: fx.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving' }],
    });
    const grace = await waitPhase(handle, 'waiting-grace', 120_000);
    assert.match(
      grace.onCancel!,
      /^undoes: restore the previous Secret and restart consumers; remove the new credential/,
    );
    const during = await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving');
    assert.notEqual(during['access-key'], before['access-key'], 'the new key was promoted');
    await handle.cancel();
    const status = await canceledRun(handle);
    assert.equal(
      status.summary,
      'canceled; undone: restore the previous Secret and restart consumers; remove the new credential from the store; delete the pending Secret',
    );
    assert.ok(
      status.steps.some((s) => s.name === 'check pods that could hold the new key' && s.detail === 'none'),
    );

    const after = await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving');
    assert.equal(after['access-key'], before['access-key'], 'the previous key is back in the Secret');
    assert.deepEqual(await accounts(), accountsBefore, 'the new key was deleted, the previous one kept');
    await zonesWorkAndNothingPending();
    await auditClean();
    const timeline = await historyOf('rotate-zone-serving');
    assert.equal(timeline.outcome, 'canceled');
    assert.match(timeline.outcomeDetail!, /^undone: restore the previous Secret and restart consumers/);
  });
});
