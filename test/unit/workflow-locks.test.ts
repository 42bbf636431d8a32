// The zone (and root) lock seen from the workflows, in the time-skipping environment: a run
// takes its lock as its run ({workflowId, runId}) before changing anything, and a run that
// finds another open run holding it refuses naming that run, having changed nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type LockOwner } from '../../src/activities/locks';
import { conflictingRotation } from '../../src/activities/temporal';
import { statusQuery } from '../../src/workflows/definitions';
import { workflowTestEnv, withWorker } from '../support/workflow-env';
import { ZONES, zoneActivities } from '../support/zone-mocks';

const CHANGES = [
  'ensureZoneIdentity',
  'promoteZonePending',
  'restartWorkloads',
  'revokePrevious',
  'deleteZonePending',
];

describe('run locks (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('RotateZone takes the lock as its own run and reports what it found', async () => {
    const zone = ZONES[0]!;
    const owners: LockOwner[] = [];
    const calls: string[] = [];
    const acts = zoneActivities(calls, {
      lockZonePending: async (_zone, opts) => {
        owners.push(opts.owner);
        return {
          accessKey: 'ak-2',
          fingerprint: 'sha256:000000000002',
          previousAccessKey: 'ak-1',
          previousFingerprint: 'sha256:000000000001',
          found: 'found the record of RotateZone x (run r) (TERMINATED): superseded service account revoked',
        };
      },
    });
    await withWorker(env, acts, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `scheduled-rotate-zone-${zone}-${Date.now()}`,
        args: [{ zone, grace: '0s' }],
      });
      await handle.result();
      assert.deepEqual(owners, [
        { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, workflowType: 'RotateZone' },
      ]);
      const step = (await handle.query(statusQuery)).steps.find((s) =>
        s.name.startsWith('take the zone lock'),
      );
      assert.match(step?.detail ?? '', /TERMINATED\): superseded service account revoked/);
    });
    // The lock comes before the first change of the store.
    assert.ok(calls.indexOf(`ensureZoneIdentity ${zone}`) > calls.indexOf(`describeZoneSecret ${zone}`));
  });

  it('RotateZone refuses while another open run holds the zone, naming it, and changes nothing', async () => {
    const zone = ZONES[1]!;
    const holder = { workflowId: `rotate-zone-${zone}`, runId: 'the-manual-run', workflowType: 'RotateZone' };
    const calls: string[] = [];
    const acts = zoneActivities(calls, {
      lockZonePending: async () => {
        calls.push('lockZonePending');
        throw conflictingRotation(`zone ${zone}`, holder);
      },
    });
    await withWorker(env, acts, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: `scheduled-rotate-zone-${zone}-${Date.now()}`,
        args: [{ zone }],
      });
      const err = await handle.result().then(
        () => assert.fail('RotateZone ran although another run holds the zone'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      const failure = err.cause as ApplicationFailure;
      assert.equal(failure.type, 'ConflictingRotation');
      assert.match(
        failure.message,
        new RegExp(`held by RotateZone ${holder.workflowId} \\(run ${holder.runId}\\)`),
      );
      assert.equal((await handle.query(statusQuery)).phase, 'failed');
    });
    assert.ok(calls.includes('lockZonePending'));
    for (const c of CHANGES)
      assert.ok(!calls.some((x) => x.startsWith(c)), `${c} must not run after a refusal`);
  });

  it('RotateRoot refuses while a zone is held by an open run, and changes nothing', async () => {
    const holder = { workflowId: 'rotate-zone-serving', runId: 'r-9', workflowType: 'RotateZone' };
    const calls: string[] = [];
    const acts = zoneActivities(calls, {
      describeRootSecret: async () => ({
        exists: true,
        accessKey: 'root',
        fingerprint: 'sha256:000000000000',
      }),
      lockRootPending: async (opts) => {
        calls.push(`lockRootPending ${opts.owner.workflowType}`);
        throw conflictingRotation('the root (zone serving is being rotated)', holder);
      },
    });
    await withWorker(env, acts, async (client, taskQueue) => {
      const err = await client.workflow
        .execute('RotateRoot', {
          taskQueue,
          workflowId: `rotate-root-${Date.now()}`,
          args: [{ approve: true }],
        })
        .then(
          () => assert.fail('RotateRoot ran although a zone is held'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof WorkflowFailedError);
      const failure = err.cause as ApplicationFailure;
      assert.equal(failure.type, 'ConflictingRotation');
      assert.match(failure.message, /held by RotateZone rotate-zone-serving \(run r-9\)/);
    });
    assert.deepEqual(
      calls.filter((c) => /Pending|promote|restart|restore/.test(c)),
      ['lockRootPending RotateRoot'],
    );
  });
});
