// RotateZone's grace wait in the time-skipping environment: days pass in seconds. A pod
// that never goes away cannot hold the previous key (and the zone) forever: at maxGrace the
// key is revoked and the run escalates; long waits continue as new with their status.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type WorkflowHandle } from '@temporalio/client';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { revokeNowUpdate, statusQuery } from '../../src/workflows/definitions';
import { ERAS } from '../../src/workflows/run-constants';
import { type WorkflowResult, type WorkflowStatus } from '../../src/workflows/types';
import { withWorker, workflowTestEnv } from '../support/workflow-env';
import { NEW, OLD, ROTATION, zoneActivities } from '../support/zone-activities';

const POLLS_PER_RUN = ERAS.outageBudgets.pollsPerRun;

const STUCK = 'dashi-serving/titiler-old-7d9f (Unknown)';

const stepStart = (s: WorkflowStatus, name: RegExp) => {
  const step = s.steps.find((st) => name.test(st.name));
  assert.ok(step, `a step ${name} in ${s.steps.map((st) => st.name).join(' | ')}`);
  return Date.parse(step.startedAt);
};

async function waitFor(handle: WorkflowHandle, ok: (s: WorkflowStatus) => boolean): Promise<WorkflowStatus> {
  let status = await handle.query(statusQuery);
  for (let i = 0; !ok(status) && i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = await handle.query(statusQuery);
  }
  return status;
}

describe('RotateZone bounded grace wait (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('revokes without escalation once grace is over and no old pod runs', async () => {
    const zone = zoneActivities((n) => (n < 3 ? [STUCK] : []));
    await withWorker(env, zone.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `grace-ok-${Date.now()}`,
        args: [{ zone: 'serving', grace: '10m' }],
      });
      const result: WorkflowResult = await handle.result();
      assert.equal(result.zones[0]!.escalation, undefined);
      const status = await handle.query(statusQuery);
      assert.equal(status.phase, 'completed');
      assert.equal(status.escalation, undefined);
      const waited = stepStart(status, /^revoke previous credential$/) - stepStart(status, /^smoke what/);
      assert.ok(waited >= 10 * 60_000 && waited < 60 * 60_000, `waited ${waited} ms`);
    });
    assert.deepEqual(zone.calls, [...ROTATION, 'revokePrevious', 'deleteZonePending']);
    assert.equal(zone.checks(), 3);
  });

  it('at maxGrace revokes anyway and escalates, naming the pods that still hold the key', async () => {
    const zone = zoneActivities(() => [STUCK]);
    await withWorker(env, zone.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `grace-bound-${Date.now()}`,
        args: [{ zone: 'serving', grace: '10m', maxGrace: '2h' }],
      });
      const result: WorkflowResult = await handle.result();
      assert.equal(result.outcome, 'completed');
      const z = result.zones[0]!;
      assert.equal(z.revoked, 'svc-old');
      assert.equal(z.escalation?.kind, 'grace-bound');
      assert.deepEqual(z.escalation?.pods, [STUCK]);
      assert.match(z.escalation!.message, /maxGrace 2h reached while 1 pod\(s\) .*titiler-old-7d9f/);
      assert.match(result.summary, /ESCALATED: maxGrace 2h reached/);

      const status = await handle.query(statusQuery);
      assert.equal(status.phase, 'escalated');
      assert.deepEqual(status.escalation, z.escalation);
      const waited =
        stepStart(status, /^revoke previous credential \(maxGrace reached: escalated\)$/) -
        stepStart(status, /^smoke what/);
      assert.ok(waited >= 2 * 3600_000 && waited < 2 * 3600_000 + 60_000, `waited ${waited} ms`);
      // Hundreds of checks would be hundreds of status lines: the series is one.
      assert.equal(status.steps.filter((s) => s.name.startsWith('check pods')).length, 1);
    });
    assert.deepEqual(zone.calls, [...ROTATION, 'revokePrevious', 'deleteZonePending']);
  });

  it('continues as new while waiting; the continued run only waits and revokes, with the status kept', async () => {
    // Stuck for two runs' worth of checks, then gone.
    const zone = zoneActivities((n) => (n <= POLLS_PER_RUN + 20 ? [STUCK] : []));
    await withWorker(env, zone.activities, async (client, taskQueue) => {
      const workflowId = `grace-can-${Date.now()}`;
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId,
        args: [{ zone: 'serving', grace: '10m', maxGrace: '3d' }],
      });
      const result: WorkflowResult = await handle.result();
      const z = result.zones[0]!;
      assert.equal(z.escalation, undefined);
      assert.equal(z.previousFingerprint, OLD);
      assert.equal(z.newFingerprint, NEW);
      assert.deepEqual(z.restarted, ['Deployment/dashi-serving/titiler']);

      const first = await client.workflow.getHandle(workflowId, handle.firstExecutionRunId).describe();
      assert.equal(first.status.name, 'CONTINUED_AS_NEW');
      const latest = await client.workflow.getHandle(workflowId).describe();
      assert.notEqual(latest.runId, handle.firstExecutionRunId);
      assert.equal(latest.status.name, 'COMPLETED');
      const firstHistory = await client.workflow
        .getHandle(workflowId, handle.firstExecutionRunId)
        .fetchHistory();
      assert.ok(
        firstHistory.events!.length < 1_500,
        `${firstHistory.events!.length} events in the first run`,
      );

      const status = await client.workflow.getHandle(workflowId).query(statusQuery);
      assert.equal(status.phase, 'completed');
      assert.deepEqual(status.fingerprints, { previous: OLD, pending: NEW, current: NEW });
      // The story of the first run is still there, then the hand-over, then the revocation.
      const names = status.steps.map((s) => s.name);
      assert.ok(
        names.includes('promote: patch Secret dashi-serving/dashi-rustfs-serving'),
        names.join(' | '),
      );
      assert.ok(names.includes('continue the grace wait as a new run (generation 2)'), names.join(' | '));
      assert.deepEqual(names.slice(-2), ['revoke previous credential', 'clean up the pending Secret']);
    });
    // The rotation ran once; the continued run only revoked.
    assert.deepEqual(zone.calls, [...ROTATION, 'revokePrevious', 'deleteZonePending']);
    assert.equal(zone.checks(), POLLS_PER_RUN + 21);
  });

  it('a continued run answers the status query and revokeNow', async () => {
    const zone = zoneActivities(() => [STUCK]);
    await withWorker(env, zone.activities, async (client, taskQueue) => {
      const workflowId = `grace-can-revoke-${Date.now()}`;
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId,
        args: [{ zone: 'serving', grace: '10m', maxGrace: '7d' }],
      });
      // 100 checks take about 8 hours; a day is two hand-overs.
      await env.sleep('1 day');
      const latest = client.workflow.getHandle(workflowId);
      const status = await waitFor(latest, (s) => s.phase === 'waiting-grace' && s.steps.length > 0);
      assert.notEqual((await latest.describe()).runId, handle.firstExecutionRunId);
      assert.equal(status.phase, 'waiting-grace');
      assert.deepEqual(status.awaiting, ['revokeNow']);
      assert.match(
        status.pauseReason!,
        /1 pod\(s\) started before the switch still run: .*titiler-old-7d9f.*maxGrace 7d/,
      );
      assert.equal(status.fingerprints.previous, OLD);
      assert.ok(status.steps.some((s) => s.name === 'smoke what the Secret holds'));

      const answer = await latest.executeUpdate(revokeNowUpdate, { args: [{ by: 'tester' }] });
      assert.match(answer, /previous key of zone serving will be revoked now \(requested by tester\)/);
      const result: WorkflowResult = await latest.result();
      assert.equal(result.zones[0]!.revoked, 'svc-old');
      assert.equal(result.zones[0]!.escalation, undefined);
      const done = await latest.query(statusQuery);
      assert.equal(done.phase, 'completed');
      assert.equal(done.steps.at(-2)!.name, 'revoke previous credential (revokeNow by tester)');
    });
    // The continued run loaded no inventory; the revokeNow reads it for approvals.authority (src/workflows/approvals.ts).
    assert.deepEqual(zone.calls, [...ROTATION, 'inventorySnapshot', 'revokePrevious', 'deleteZonePending']);
  });
});
