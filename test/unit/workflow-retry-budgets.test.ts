// Retries sized for outages (patch outage-budgets) in the time-skipping environment: a step
// that keeps failing is retried for its kind's budget (hours pass in seconds), shown in the
// status while it fails, told to people after escalateAfter, and past the switch a run never
// ends with the previous key silently valid. Activities are strict mocks (zone-activities.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Activities } from '../../src/activities';
import { statusQuery, stopRetryingUpdate } from '../../src/workflows/definitions';
import { ERAS } from '../../src/workflows/run-constants';
import { type Announcement, type WorkflowResult, type WorkflowStatus } from '../../src/workflows/types';
import { inventory } from '../support/dashi';
import { withWorker, workflowTestEnv } from '../support/workflow-env';
import { ROTATION, zoneActivities } from '../support/zone-activities';

const BUDGETS = ERAS.outageBudgets.budgets!;
const OUTAGE = 'connect ECONNREFUSED 127.0.0.1:9000 (the store is unreachable)';

/**
 * A rotation of zone serving whose `name` activity fails while `fails(n)` says so for its n-th
 * call. Activities run on the real clock while the workflow's skips: outages are counted in
 * attempts, and how long they lasted is read from the steps the workflow recorded.
 */
function rotation(name: keyof Activities, fails: (call: number) => boolean) {
  const zone = zoneActivities(() => []);
  const announced: Announcement[] = [];
  const real = zone.activities[name] as (...args: unknown[]) => Promise<unknown>;
  let call = 0;
  (zone.activities as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
    if (fails(++call)) throw new Error(OUTAGE);
    return real(...args);
  };
  zone.activities.announce = async (a) => {
    announced.push(a);
    return { events: [], notified: [] };
  };
  zone.activities.discardPendingIdentity = async () => 'svc-new deleted';
  return { ...zone, announced, attempts: () => call };
}

/** How long the workflow's step took (workflow time: timers skipped still count). */
function stepSpan(status: WorkflowStatus, name: string): number {
  const step = status.steps.find((s) => s.name === name);
  assert.ok(step?.endedAt, `step ${name} in ${status.steps.map((s) => s.name).join(' | ')}`);
  return Date.parse(step.endedAt) - Date.parse(step.startedAt);
}

const escalations = (announced: Announcement[]) =>
  announced.filter((a) => a.notification?.kind === 'escalated');

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('the run completed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
  return err.cause;
}

describe('outage budgets (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('a store outage of 10 minutes before the switch is outlasted; on-call is told after escalateAfter', async () => {
    // 1, 2, 4, 8, 16 s, then every 30 s: 25 failures are about 10 minutes.
    const r = rotation('ensureZoneIdentity', (n) => n <= 25);
    await withWorker(env, r.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `budget-outage-${Date.now()}`,
        args: [{ zone: 'serving', grace: '0s' }],
      });
      const result: WorkflowResult = await handle.result();
      assert.equal(result.outcome, 'completed');
      assert.equal(result.zones[0]!.revoked, 'svc-old');
      const status = await handle.query(statusQuery);
      assert.equal(status.retrying, undefined);
      const span = stepSpan(status, 'issue new service account');
      const expected = (1 + 2 + 4 + 8 + 16 + 20 * 30) * 1000;
      // Each attempt's own time (a workflow task, a local activity) comes on top of the backoff.
      assert.ok(span >= expected && span < expected + 30_000, `the step took ${span} ms`);
    });
    assert.equal(r.attempts(), 26);

    const told = escalations(r.announced);
    assert.equal(told.length, 1, 'told once, not per attempt');
    const n = told[0]!.notification!;
    assert.match(
      n.title,
      /RotateZone zone serving: step "issue new service account" keeps failing \(\d+ attempts\)/,
    );
    assert.match(n.text, /ECONNREFUSED/);
    assert.match(n.text, /nothing is switched while this step retries/);
    assert.ok(
      n.commands?.some((c) => /^rotator stop-retrying budget-outage-/.test(c)),
      n.commands?.join(' | '),
    );
    assert.deepEqual(
      told[0]!.events.map((e) => [e.reason, e.type, e.target]),
      [['StepRetrying', 'Warning', { secretOf: 'zone' }]],
    );
  });

  it('a permanent error (nonRetryable) still fails at once and the run undoes', async () => {
    const zone = zoneActivities(() => []);
    let calls = 0;
    zone.activities.ensureZoneIdentity = async () => {
      calls++;
      throw ApplicationFailure.nonRetryable('access denied for user rotator', 'StoreAccessDenied');
    };
    zone.activities.discardPendingIdentity = async () => 'nothing issued';
    await withWorker(env, zone.activities, async (client, taskQueue) => {
      const failure = await failureOf(
        client.workflow.execute('RotateZone', {
          taskQueue,
          workflowId: `budget-permanent-${Date.now()}`,
          args: [{ zone: 'serving', grace: '0s' }],
        }),
      );
      assert.equal(failure.type, 'RotationFailed');
      assert.match(failure.message, /access denied for user rotator/);
    });
    assert.equal(calls, 1);
  });

  it('past the switch a revocation failing for 3 hours is retried, escalated, and the key revoked', async () => {
    // 2, 4, ... 64 s, then every 2 minutes: 100 failures are more than 3 hours.
    const r = rotation('revokePrevious', (n) => n <= 100);
    await withWorker(env, r.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `budget-revoke-${Date.now()}`,
        args: [{ zone: 'serving', grace: '0s' }],
      });
      const result: WorkflowResult = await handle.result();
      assert.equal(result.outcome, 'completed');
      assert.equal(result.zones[0]!.revoked, 'svc-old');
      const span = stepSpan(await handle.query(statusQuery), 'revoke previous credential');
      assert.ok(span > 3 * 3600_000, `the revocation took ${span} ms`);
    });
    assert.deepEqual(r.calls, [...ROTATION, 'revokePrevious', 'deleteZonePending']);
    const told = escalations(r.announced);
    assert.equal(told.length, 1);
    assert.match(told[0]!.notification!.text, /pastSwitch budget/);
    assert.match(told[0]!.notification!.text, /the previous key stays valid until this step succeeds/);
  });

  it('past the switch, when the budget is spent the run fails naming the key still valid and how to revoke it', async () => {
    const r = rotation('revokePrevious', () => true);
    await withWorker(env, r.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `budget-spent-${Date.now()}`,
        args: [{ zone: 'serving', grace: '0s' }],
      });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'PreviousKeyStillValid');
      assert.match(
        failure.message,
        /The previous key svc-old \(sha256:aaaaaaaaaaaa\) of zone serving is STILL VALID/,
      );
      assert.match(failure.message, /`rotator start-workflow RotateZone --zone serving`/);
      assert.match(failure.message, /`rotator audit` lists the record/);
      assert.match(
        failure.message,
        /revokePrevious failed \d+ time\(s\) over 5h5\dm\d+s, its pastSwitch budget of 6h is spent: .*ECONNREFUSED/,
      );
      const status = await handle.query(statusQuery);
      assert.equal(status.phase, 'failed');
      assert.equal(status.retrying, undefined);
      const span = stepSpan(status, 'revoke previous credential');
      const budget = BUDGETS.steps.pastSwitch;
      assert.ok(
        span <= budget.budgetMs && span > budget.budgetMs - budget.maxIntervalMs - 5_000,
        `${span} ms`,
      );
    });
    // The pending record (the audit's finding, the next run's reconcile) is kept.
    assert.ok(!r.calls.includes('deleteZonePending'), r.calls.join(' | '));
    const end = r.announced.at(-1)!.notification!;
    assert.equal(end.kind, 'failed');
    assert.deepEqual(end.commands, ['rotator start-workflow RotateZone --zone serving', 'rotator audit']);
  });

  it("the inventory's retries override an era's budget (recorded with the run's inventory)", async () => {
    const r = rotation('revokePrevious', () => true);
    r.activities.inventorySnapshot = async () => ({ ...inventory, retries: { pastSwitch: 30 * 60_000 } });
    await withWorker(env, r.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `budget-override-${Date.now()}`,
        args: [{ zone: 'serving', grace: '0s' }],
      });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'PreviousKeyStillValid');
      assert.match(failure.message, /its pastSwitch budget of 30m is spent/);
      const span = stepSpan(await handle.query(statusQuery), 'revoke previous credential');
      assert.ok(span <= 30 * 60_000 && span > 25 * 60_000, `${span} ms`);
    });
  });

  it('stopRetrying: a person ends the retries; past the switch the run names the key still valid', async () => {
    const r = rotation('revokePrevious', () => true);
    await withWorker(env, r.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `budget-stop-${Date.now()}`,
        args: [{ zone: 'serving', grace: '0s' }],
      });
      // Refused while nothing retries.
      let status = await handle.query(statusQuery);
      for (let i = 0; !status.retrying?.length && i < 200; i++) {
        await new Promise((res) => setTimeout(res, 50));
        status = await handle.query(statusQuery);
      }
      const retrying = status.retrying?.[0];
      assert.ok(retrying, 'the status shows the step being retried');
      assert.equal(retrying.step, 'revoke previous credential');
      assert.equal(retrying.activity, 'revokePrevious');
      assert.equal(retrying.kind, 'pastSwitch');
      assert.ok(retrying.attempts >= 1);
      assert.match(retrying.lastError, /ECONNREFUSED/);
      assert.ok(
        Date.parse(retrying.givesUpAt) - Date.parse(retrying.since) === BUDGETS.steps.pastSwitch.budgetMs,
      );

      // Accepted is enough: the run ends in the task that answers it, and the time-skipping
      // server does not hand out the answer of an update whose run ended in the same task.
      await handle.startUpdate(stopRetryingUpdate, {
        args: [{ by: 'oncall@example', reason: 'store decommissioned' }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      const failure = await failureOf(handle.result());
      assert.equal(failure.type, 'PreviousKeyStillValid');
      assert.match(failure.message, /retries stopped by oncall@example \(store decommissioned\)/);
      assert.match(failure.message, /svc-old .* STILL VALID/);
    });
  });

  it('stopRetrying is refused while no step is retried', async () => {
    const zone = zoneActivities(() => ['dashi-serving/old-pod (Unknown)']);
    await withWorker(env, zone.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `budget-refused-${Date.now()}`,
        args: [{ zone: 'serving', grace: '1h' }],
      });
      let status = await handle.query(statusQuery);
      for (let i = 0; status.phase !== 'waiting-grace' && i < 200; i++) {
        await new Promise((res) => setTimeout(res, 50));
        status = await handle.query(statusQuery);
      }
      await assert.rejects(
        handle.executeUpdate(stopRetryingUpdate, { args: [{ by: 'oncall' }] }),
        (err: Error) => {
          assert.match(
            String(err.cause),
            /stopRetrying is accepted only while a step is being retried; none is/,
          );
          return true;
        },
      );
      await handle.terminate('test over');
    });
  });

  it('an undo is retried until it succeeds (compensation budget): the rotation is rolled back', async () => {
    const zone = zoneActivities(() => []);
    zone.activities.smokeZone = async (_zone, source = 'current') => {
      if (source === 'current')
        throw ApplicationFailure.nonRetryable('zone serving: 2 of 12 cells mismatched', 'SmokeMismatch');
      return { zone: 'serving', source, passed: 12, cells: 12, mismatches: [] };
    };
    let restores = 0;
    // 2, 4, ... 64 s, then every 2 minutes: 70 failures are more than 2 hours, far past every
    // budget before the switch.
    zone.activities.restoreZonePrevious = async () => {
      if (++restores <= 70) throw new Error(OUTAGE);
      return { fingerprint: 'sha256:aaaaaaaaaaaa', changed: true, writtenAt: new Date().toISOString() };
    };
    zone.activities.discardPendingIdentity = async () => 'svc-new deleted';
    zone.activities.podsHoldingPrevious = async () => [];
    await withWorker(env, zone.activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `budget-undo-${Date.now()}`,
        args: [{ zone: 'serving', grace: '0s' }],
      });
      const failure = await failureOf(handle.result());
      assert.match(failure.message, /SmokeMismatch|2 of 12 cells mismatched/);
      assert.match(failure.message, /Compensation completed: consumers are back on the previous credential/);
      const status = await handle.query(statusQuery);
      assert.deepEqual(status.compensationErrors, []);
      const span = stepSpan(status, 'compensate: restore the previous Secret and restart consumers');
      assert.ok(span > 2 * 3600_000, `the undo took ${span} ms`);
    });
    assert.equal(restores, 71);
  });
});
