// BootstrapCluster `rotate` and its RotateZone children in the time-skipping environment:
// one zone's failure or refusal is that zone's; the parent settles every child, lists
// every zone's outcome, and fails (for the schedule's pause-on-failure) when one failed.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { conflictingRotation, runState } from '../../src/activities/temporal';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult, type ZoneResult } from '../../src/workflows/types';
import { workflowTestEnv, withWorker } from '../support/workflow-env';
import { ZONES, zoneActivities } from '../support/zone-mocks';

const byZone = (zones: ZoneResult[]) => Object.fromEntries(zones.map((z) => [z.zone, z]));

describe('BootstrapCluster rotate: children (time-skipping)', () => {
  // A test server per test. Sharing one, twice on a loaded machine the last test's timers
  // stopped firing after the others had run (its BootstrapCluster, children and hand-started
  // run all idle with timers pending, the clock 20 years on) and the file hung; each test
  // alone, even under load, passed.
  let env: TestWorkflowEnvironment;
  beforeEach(async () => {
    env = await workflowTestEnv();
  });
  afterEach(async () => {
    await env?.teardown();
  });

  it('a failing child ends neither its siblings nor the parent early; the parent fails listing every zone', async () => {
    assert.ok(ZONES.length >= 3, 'the dashi inventory has three zones');
    const [ok1, bad, ok2] = ZONES as [string, string, string];
    const calls: string[] = [];
    const acts = zoneActivities(calls, {
      ensureZoneIdentity: async (zone) => {
        calls.push(`ensureZoneIdentity ${zone}`);
        if (zone === bad) throw ApplicationFailure.nonRetryable('store refused the key', 'StoreBadRequest');
        return {
          userCreated: false,
          credential: 'service account created',
          fingerprint: 'sha256:000000000002',
        };
      },
    });
    await withWorker(env, acts, async (client, taskQueue) => {
      const id = `bootstrap-fail-${Date.now()}`;
      const handle = await client.workflow.start('BootstrapCluster', {
        taskQueue,
        workflowId: id,
        args: [{ rotate: true }],
      });
      const err = await handle.result().then(
        () => assert.fail('BootstrapCluster completed although a zone failed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      const failure = err.cause as ApplicationFailure;
      assert.equal(failure.type, 'ZoneRotationFailed');
      assert.match(failure.message, new RegExp(`${ok1}: rotated`));
      assert.match(failure.message, new RegExp(`${bad}: failed \\(.*store refused the key`));
      assert.match(failure.message, new RegExp(`${ok2}: rotated`));
      const details = (failure.cause as ApplicationFailure).details?.[0] as ZoneResult[];
      assert.deepEqual(
        details.map((z) => [z.zone, z.outcome]),
        ZONES.map((z) => [z, z === bad ? 'failed' : 'rotated']),
      );
      // The siblings ran to their end: previous key revoked, pending record cleaned up.
      for (const z of [ok1, ok2]) {
        assert.ok(calls.includes(`revokePrevious ${z}`), `${z} revoked its previous key`);
        const child = await client.workflow.getHandle(`rotate-zone-${z}`).describe();
        assert.equal(child.status.name, 'COMPLETED');
      }
      // The failing child undid its own work and nobody else's.
      assert.ok(calls.includes(`discardPendingIdentity ${bad}`));
      assert.ok(!calls.includes(`revokePrevious ${bad}`));
      const status = await handle.query(statusQuery);
      assert.equal(status.phase, 'failed');
    });
  });

  it('a child refused with ConflictingRotation is reported skipped, naming the run that holds the zone', async () => {
    const held = ZONES[2]!;
    const holder = {
      workflowId: `scheduled-rotate-zone-${held}-2026`,
      runId: 'run-of-the-schedule',
      workflowType: 'RotateZone',
    };
    const calls: string[] = [];
    const acts = zoneActivities(calls, {
      lockZonePending: async (zone) => {
        calls.push(`lockZonePending ${zone}`);
        if (zone === held) throw conflictingRotation(`zone ${zone}`, holder);
        return {
          accessKey: `ak-${zone}-2`,
          fingerprint: 'sha256:000000000002',
          previousAccessKey: `ak-${zone}-1`,
          previousFingerprint: 'sha256:000000000001',
          found: 'no pending record: lock taken',
        };
      },
    });
    const result = (await withWorker(env, acts, (client, taskQueue) =>
      client.workflow.execute('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-refused-${Date.now()}`,
        args: [{ rotate: true }],
      }),
    )) as WorkflowResult;
    assert.equal(result.outcome, 'completed');
    const zones = byZone(result.zones);
    assert.deepEqual(Object.keys(zones).sort(), [...ZONES].sort());
    assert.equal(zones[held]!.outcome, 'skipped');
    assert.deepEqual(zones[held]!.heldBy, holder);
    assert.match(
      result.summary,
      new RegExp(`${held}: skipped \\(held by RotateZone ${holder.workflowId} \\(run ${holder.runId}\\)\\)`),
    );
    for (const z of ZONES.filter((z) => z !== held)) assert.equal(zones[z]!.outcome, 'rotated');
    // The refused zone changed nothing: no key issued, and the holder's record left alone.
    assert.ok(!calls.includes(`ensureZoneIdentity ${held}`));
    assert.ok(!calls.includes(`deleteZonePending ${held}`));
  });

  it('a zone held by an open run is not even ensured, and no child is started for it', async () => {
    const held = ZONES[0]!;
    const holder = {
      workflowId: 'rotate-zone-by-hand',
      runId: 'r-7',
      workflowType: 'RotateZone',
      open: true,
      status: 'RUNNING',
    };
    const calls: string[] = [];
    const acts = zoneActivities(calls, {
      holdZone: async (zone) => (
        calls.push(`holdZone ${zone}`),
        zone === held ? { heldBy: holder, found: 'held' } : { found: 'zone held' }
      ),
    });
    const result = (await withWorker(env, acts, (client, taskQueue) =>
      client.workflow.execute('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-held-${Date.now()}`,
        args: [{ rotate: true }],
      }),
    )) as WorkflowResult;
    const zones = byZone(result.zones);
    assert.equal(zones[held]!.outcome, 'skipped');
    assert.deepEqual(zones[held]!.heldBy, {
      workflowId: 'rotate-zone-by-hand',
      runId: 'r-7',
      workflowType: 'RotateZone',
    });
    assert.ok(!calls.includes(`ensureZoneSecret ${held}`));
    assert.ok(!calls.includes(`lockZonePending ${held}`));
    // Not held by this run, so not released by it either.
    assert.ok(!calls.includes(`releaseZone ${held}`));
    for (const z of ZONES.filter((z) => z !== held)) assert.equal(zones[z]!.outcome, 'rotated');
  });

  it('each zone is held while it is ensured and released before its child locks it', async () => {
    const calls: string[] = [];
    const result = (await withWorker(env, zoneActivities(calls), (client, taskQueue) =>
      client.workflow.execute('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-holds-${Date.now()}`,
        args: [{ rotate: true, parallelism: 2 }],
      }),
    )) as WorkflowResult;
    assert.equal(result.outcome, 'completed');
    for (const z of ZONES) {
      const at = (what: string) => calls.indexOf(`${what} ${z}`);
      assert.ok(at('holdZone') >= 0, `${z} held`);
      assert.ok(at('holdZone') < at('ensureZoneSecret'), `${z} held before its Secret is ensured`);
      assert.ok(at('ensureZoneSecret') < at('releaseZone'), `${z} released after it is ensured`);
      assert.ok(at('releaseZone') < at('lockZonePending'), `${z} released before its child locks it`);
    }
    assert.ok(!calls.some((c) => c.startsWith('zoneHolder')), 'the check of the run-locks era is not made');
  });

  it('a zone whose ensuring fails is still released; one held in another Temporal namespace is skipped naming it', async () => {
    const [failing, elsewhere] = ZONES as [string, string];
    const other = {
      workflowId: 'rotate-zone-dr',
      runId: 'r-dr',
      workflowType: 'RotateZone',
      namespace: 'rotator-dr',
      open: true,
      status: 'IN_OTHER_NAMESPACE',
    };
    const calls: string[] = [];
    const acts = zoneActivities(calls, {
      holdZone: async (zone) => (
        calls.push(`holdZone ${zone}`),
        zone === elsewhere ? { heldBy: other, found: 'held' } : { found: 'zone held' }
      ),
      ensureZoneSecret: async (zone) => {
        calls.push(`ensureZoneSecret ${zone}`);
        if (zone === failing) throw ApplicationFailure.nonRetryable('Secret refused', 'KubeForbidden');
        return {
          created: false,
          endpointFixed: false,
          accessKey: `ak-${zone}-1`,
          fingerprint: 'sha256:000000000001',
        };
      },
    });
    const { err, status } = await withWorker(env, acts, async (client, taskQueue) => {
      const handle = await client.workflow.start('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-release-${Date.now()}`,
        args: [{}],
      });
      const err = await handle.result().then(
        () => assert.fail('BootstrapCluster completed although a zone failed'),
        (e: unknown) => e,
      );
      return { err, status: await handle.query(statusQuery) };
    });
    assert.ok(err instanceof WorkflowFailedError);
    const step = status.steps.find((s) => s.name === `hold zone ${elsewhere}`);
    assert.match(
      String(step?.detail),
      /held by RotateZone rotate-zone-dr \(run r-dr\) in Temporal namespace rotator-dr: skipped/,
    );
    assert.match(String(err.cause?.message), /Secret refused/);
    assert.ok(calls.includes(`releaseZone ${failing}`), 'the failed zone released');
    assert.ok(!calls.includes(`releaseZone ${elsewhere}`));
    assert.ok(!calls.includes(`ensureZoneSecret ${elsewhere}`), 'a zone held elsewhere is not touched');
  });

  it('a zone whose child ID is already running (rotated by hand) is skipped naming that run; siblings complete', async () => {
    const held = ZONES[2]!;
    const calls: string[] = [];
    const acts = zoneActivities(calls, { describeRun: (ref) => runState(env.client, ref) });
    await withWorker(env, acts, async (client, taskQueue) => {
      const hand = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `rotate-zone-${held}`,
        args: [{ zone: held, grace: '30d', maxGrace: '30d' }],
      });
      for (let i = 0; (await hand.query(statusQuery)).phase !== 'waiting-grace'; i++) {
        assert.ok(i < 200, 'the hand-started rotation reaches its grace wait');
        await new Promise((r) => setTimeout(r, 50));
      }
      const result = (await client.workflow.execute('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-already-started-${Date.now()}`,
        args: [{ rotate: true }],
      })) as WorkflowResult;
      const zones = byZone(result.zones);
      assert.equal(zones[held]!.outcome, 'skipped');
      assert.equal(zones[held]!.heldBy?.workflowId, `rotate-zone-${held}`);
      assert.equal(zones[held]!.heldBy?.runId, hand.firstExecutionRunId);
      for (const z of ZONES.filter((z) => z !== held)) assert.equal(zones[z]!.outcome, 'rotated');
      await hand.terminate('test done');
      assert.equal((await hand.describe()).status.name, 'TERMINATED');
    });
  });
});
