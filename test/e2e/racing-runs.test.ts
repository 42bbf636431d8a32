// Runs that overlap on the real stack: the zone's pending record is its lock whatever the
// workflow ID. A BootstrapCluster rotate while a zone rotates by hand completes the others
// and reports the held zone; a scheduled-ID and a manual RotateZone of one zone started
// together: one refuses naming the other. After each, `rotator audit` finds nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { revokeNowUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { runCli, startCliWorker, type CliFixture } from '../support/cli';
import { getStack } from '../support/stack';

const stack = getStack();
let fx: CliFixture;

async function waitForPhase(handle: WorkflowHandle, phase: string): Promise<void> {
  for (let i = 0; ; i++) {
    const s = await handle.query(statusQuery).catch(() => undefined);
    if (s?.phase === phase) return;
    assert.ok(i < 600, `${handle.workflowId} reaches ${phase} (now ${s?.phase}; last error ${s?.lastError})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function auditClean(): Promise<void> {
  const r = await runCli(['audit'], fx.env);
  assert.equal(r.code, 0, `rotator audit found something:\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /findings: none/);
}

describe('racing runs on the real stack', () => {
  before(async () => {
    fx = await startCliWorker(stack, { grace: '0s' });
    const client = fx.worker.client;
    await client.workflow.execute('BootstrapCluster', {
      taskQueue: fx.taskQueue,
      workflowId: `bootstrap-racing-${Date.now()}`,
      args: [{}],
    });
  });
  after(async () => fx?.close());

  test('BootstrapCluster rotate while serving rotates by hand: siblings complete, serving is reported held', async () => {
    const client = fx.worker.client;
    const hand = await client.workflow.start('RotateZone', {
      taskQueue: fx.taskQueue,
      workflowId: `manual-serving-${Date.now()}`,
      args: [{ zone: 'serving', grace: '1h' }],
    });
    await waitForPhase(hand, 'waiting-grace');
    const result = (await client.workflow.execute('BootstrapCluster', {
      taskQueue: fx.taskQueue,
      workflowId: `bootstrap-rotate-${Date.now()}`,
      args: [{ rotate: true }],
    })) as WorkflowResult;
    const zones = Object.fromEntries(result.zones.map((z) => [z.zone, z]));
    assert.equal(zones.serving?.outcome, 'skipped', JSON.stringify(result.zones));
    assert.equal(zones.serving?.heldBy?.workflowId, hand.workflowId);
    assert.equal(zones.serving?.heldBy?.runId, hand.firstExecutionRunId);
    for (const z of ['ingest', 'pipeline']) assert.equal(zones[z]?.outcome, 'rotated');
    await hand.executeUpdate(revokeNowUpdate, { args: [{ by: 'test' }] });
    await hand.result();
    await auditClean();
  });

  test('a scheduled-ID and a manual RotateZone of one zone started together: one refuses naming the other', async () => {
    const client = fx.worker.client;
    const start = (workflowId: string) =>
      client.workflow.start('RotateZone', {
        taskQueue: fx.taskQueue,
        workflowId,
        args: [{ zone: 'ingest' }],
      });
    const [a, b] = await Promise.all([
      start(`scheduled-rotate-zone-ingest-${Date.now()}`),
      start(`rotate-zone-ingest`),
    ]);
    const results = await Promise.allSettled([a.result(), b.result()]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)));
    const lost = results.findIndex((r) => r.status === 'rejected');
    const winner = lost === 0 ? b : a;
    const err = (results[lost] as PromiseRejectedResult).reason;
    assert.ok(err instanceof WorkflowFailedError);
    const failure = err.cause as ApplicationFailure;
    assert.ok(
      failure.type === 'ConflictingRotation',
      `refused as ConflictingRotation, got ${failure.type}: ${failure.message}`,
    );
    assert.match(failure.message, new RegExp(`${winner.workflowId}`));
    await auditClean();
  });

  test('a RotateZone terminated mid-rotation: the next one reconciles it and says what it found', async () => {
    const client = fx.worker.client;
    const first = await client.workflow.start('RotateZone', {
      taskQueue: fx.taskQueue,
      workflowId: `terminated-pipeline-${Date.now()}`,
      args: [{ zone: 'pipeline', grace: '1h' }],
    });
    await waitForPhase(first, 'waiting-grace');
    await first.terminate('on-call pressed terminate');
    const audit = await runCli(['audit'], fx.env);
    assert.equal(audit.code, 6, audit.stdout);
    assert.match(
      audit.stdout,
      /pending record of zone pipeline left by RotateZone .*TERMINATED.*rotator start-workflow RotateZone --zone pipeline/,
    );
    const next = await client.workflow.start('RotateZone', {
      taskQueue: fx.taskQueue,
      workflowId: `reconcile-pipeline-${Date.now()}`,
      args: [{ zone: 'pipeline' }],
    });
    await next.result();
    const lock = (await next.query(statusQuery)).steps.find((s) => s.name.startsWith('take the zone lock'));
    assert.match(lock?.detail ?? '', /found the record of RotateZone .*TERMINATED/);
    assert.match(lock?.detail ?? '', /superseded (service account .* revoked|key .* is not in the store)/);
    await auditClean();
  });
});
