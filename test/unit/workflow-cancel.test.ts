// Cancel in each phase of each workflow, in the time-skipping environment with mocked
// activities: a cancel undoes what the run did (or, past the point of no return, finishes
// what keeps consumers safe) and the run ends CANCELED saying which.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { ending, Fake, FP, storeNeverBack, untilPhase, ZONES } from '../support/workflow-mocks';
import { withWorker, workflowTestEnv } from '../support/workflow-env';

let ids = 0;
const id = (what: string) => `${what}-${process.pid}-${++ids}`;

describe('cancel (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  describe('RotateRoot', () => {
    it('awaiting approval: nothing changed, CANCELED', async () => {
      const fake = new Fake();
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('root-approval');
        const handle = await client.workflow.start('RotateRoot', { taskQueue, workflowId, args: [{}] });
        const waiting = await untilPhase(client, workflowId, 'awaiting-approval');
        assert.match(waiting.onCancel ?? '', /ends CANCELED; nothing changed, nothing to undo/);
        await handle.cancel();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.equal(end.status.phase, 'canceled');
        assert.equal(end.memo, 'canceled; nothing changed, nothing to undo');
        assert.equal(end.status.summary, end.memo);
      });
      assert.deepEqual(fake.names(), [
        'inventorySnapshot',
        'assertNoConflictingRun',
        'verifyRoot',
        'describeRootSecret',
      ]);
    });

    it('paused: rolls back to the previous root (restore, restart, verify, re-ensure zones), CANCELED', async () => {
      const fake = storeNeverBack();
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('root-paused');
        const handle = await client.workflow.start('RotateRoot', {
          taskQueue,
          workflowId,
          args: [{ approve: true, restartTimeout: '3s', pauseTimeout: '1h' }],
        });
        const paused = await untilPhase(client, workflowId, 'paused');
        assert.match(
          paused.onCancel ?? '',
          /undoes: roll back to the previous root; delete the pending root Secret; then ends CANCELED/,
        );
        await handle.cancel();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.equal(
          end.memo,
          'canceled; undone: roll back to the previous root; delete the pending root Secret',
        );
        assert.equal(end.status.fingerprints.current, FP.rootPrevious);
        assert.deepEqual(end.status.compensationErrors, []);
      });
      const names = fake.names();
      const undo = names.slice(names.indexOf('restoreRootPrevious'));
      assert.deepEqual(undo, [
        'restoreRootPrevious',
        'restartWorkloads',
        'forceRollback',
        'waitForStoreWithRoot',
        ...ZONES.flatMap(() => ['ensureZoneIdentity', 'smokeZone'] as const),
        'deleteRootPending',
      ]);
      // Twice the forward window (3 s), but never less than the two-minute floor of the way back.
      assert.deepEqual(fake.calls[names.lastIndexOf('waitForStoreWithRoot')]!.args[0], {
        timeoutMs: 120_000,
        expectFingerprint: FP.rootPrevious,
      });
    });

    it('after recording pending, before the patch: Secret restored, the store NOT restarted, CANCELED', async () => {
      const fake = new Fake().block('promoteRootPending');
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('root-patch');
        const handle = await client.workflow.start('RotateRoot', {
          taskQueue,
          workflowId,
          args: [{ approve: true }],
        });
        await fake.called('promoteRootPending');
        await handle.cancel();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.match(
          end.memo ?? '',
          /undone: roll back to the previous root; delete the pending root Secret/,
        );
      });
      const names = fake.names();
      assert.deepEqual(names.slice(names.indexOf('promoteRootPending')), [
        'promoteRootPending',
        'restoreRootPrevious',
        'waitForStoreWithRoot',
        'deleteRootPending',
      ]);
      assert.equal(fake.count('restartWorkloads'), 0, 'the store was never restarted');
    });

    it('past the point of no return: every zone still re-ensured and smoked, then CANCELED saying so', async () => {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const fake = new Fake().on('ensureZoneIdentity', async () => {
        await released;
        return { userCreated: false, credential: 'x', fingerprint: FP.previous };
      });
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('root-committed');
        const handle = await client.workflow.start('RotateRoot', {
          taskQueue,
          workflowId,
          args: [{ approve: true }],
        });
        await fake.called('ensureZoneIdentity');
        const running = await untilPhase(client, workflowId, 'running');
        assert.match(running.onCancel ?? '', /ends CANCELED; the new root is live/);
        await handle.cancel();
        release();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.match(
          end.memo ?? '',
          /^canceled; the new root is live and the previous one no longer works: every zone is still re-ensured and smoked/,
        );
        assert.ok(end.status.steps.every((s) => s.state === 'done'));
      });
      assert.equal(fake.count('ensureZoneIdentity'), ZONES.length);
      assert.equal(fake.count('smokeZone'), ZONES.length);
      assert.equal(fake.count('deleteRootPending'), 1);
      assert.equal(fake.count('restoreRootPrevious'), 0, 'nothing rolled back');
    });
  });

  describe('RotateZone', () => {
    it('before promotion (smoking the new key): new credential and pending record deleted, CANCELED', async () => {
      const fake = new Fake().block('smokeZone');
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('zone-smoke');
        const handle = await client.workflow.start('RotateZone', {
          taskQueue,
          workflowId,
          args: [{ zone: 'serving', grace: '1h' }],
        });
        await fake.called('smokeZone');
        await handle.cancel();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.equal(
          end.memo,
          'canceled; undone: remove the new credential from the store; delete the pending Secret',
        );
      });
      const names = fake.names();
      assert.deepEqual(names.slice(names.indexOf('smokeZone') + 1), [
        'discardPendingIdentity',
        'deleteZonePending',
      ]);
      assert.equal(fake.count('restoreZonePrevious'), 0, 'the Secret was never changed');
    });

    it('during the rollouts: previous Secret restored, consumers restarted, new key deleted, CANCELED', async () => {
      const fake = new Fake().blockOnce('waitForRollouts');
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('zone-rollout');
        const handle = await client.workflow.start('RotateZone', {
          taskQueue,
          workflowId,
          args: [{ zone: 'serving', grace: '1h' }],
        });
        await fake.called('waitForRollouts');
        await handle.cancel();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.equal(
          end.memo,
          'canceled; undone: restore the previous Secret and restart consumers; remove the new credential from the store; delete the pending Secret',
        );
        assert.equal(end.status.fingerprints.current, FP.previous);
      });
      const names = fake.names();
      assert.deepEqual(names.slice(names.indexOf('waitForRollouts') + 1), [
        'restoreZonePrevious',
        'restartWorkloads',
        'waitForRollouts',
        'podsHoldingPrevious',
        'discardPendingIdentity',
        'deleteZonePending',
      ]);
    });

    it('in the grace wait: the rotation is undone (previous key still valid), CANCELED', async () => {
      const fake = new Fake();
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('zone-grace');
        const handle = await client.workflow.start('RotateZone', {
          taskQueue,
          workflowId,
          args: [{ zone: 'serving', grace: '1h' }],
        });
        const grace = await untilPhase(client, workflowId, 'waiting-grace');
        assert.equal(
          grace.onCancel,
          'undoes: restore the previous Secret and restart consumers; remove the new credential from the store; delete the pending Secret; then ends CANCELED',
        );
        await handle.cancel();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.match(
          end.memo ?? '',
          /undone: restore the previous Secret and restart consumers; remove the new/,
        );
      });
      assert.equal(fake.count('revokePrevious'), 0, 'the previous key stays: consumers are back on it');
      const names = fake.names();
      assert.deepEqual(names.slice(names.indexOf('restoreZonePrevious')), [
        'restoreZonePrevious',
        'restartWorkloads',
        'waitForRollouts',
        'podsHoldingPrevious',
        'discardPendingIdentity',
        'deleteZonePending',
      ]);
      // The pods check looks for pods started before the restore that its restart did not replace.
      const restore = fake.calls.find((c) => c.name === 'restoreZonePrevious')!;
      const check = fake.calls.filter((c) => c.name === 'podsHoldingPrevious').at(-1)!;
      const at = Date.parse((restore.args[1] as { at: string }).at);
      assert.equal(Date.parse(check.args[1] as string), at - 1);
    });

    it('during the revocation (past the grace wait): revocation and clean-up finish, CANCELED saying so', async () => {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const fake = new Fake().on('revokePrevious', async () => {
        await released;
        return 'removed';
      });
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('zone-revoke');
        const handle = await client.workflow.start('RotateZone', {
          taskQueue,
          workflowId,
          args: [{ zone: 'serving', grace: '0s' }],
        });
        await fake.called('revokePrevious');
        await handle.cancel();
        release();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.match(end.memo ?? '', /^canceled; the previous key is being revoked/);
      });
      assert.equal(fake.count('deleteZonePending'), 1);
      assert.equal(fake.count('restoreZonePrevious'), 0);
    });
  });

  describe('BootstrapCluster', () => {
    it('starts no new zone, lets the zone in flight finish, CANCELED', async () => {
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      // A new Secret: its consumers are restarted and waited for (a regular activity, so the
      // workflow task before it completes and the cancel is seen while the zone is in flight).
      const fake = new Fake()
        .on('ensureZoneSecret', async () => ({
          created: true,
          fingerprint: FP.pending,
          endpointFixed: false,
        }))
        .on('waitForRollouts', async () => {
          await released;
          return ['rolled out'];
        });
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('bootstrap');
        const handle = await client.workflow.start('BootstrapCluster', {
          taskQueue,
          workflowId,
          args: [{ parallelism: 1 }],
        });
        await fake.called('waitForRollouts');
        await handle.cancel();
        await new Promise((r) => setTimeout(r, 500));
        release();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
        assert.match(end.memo ?? '', /^canceled; starts no new zone and lets the zones in flight finish/);
        const smoked = end.status.steps.filter((s) => s.name.startsWith('smoke zone '));
        assert.deepEqual(
          smoked.map((s) => [s.name, s.state]),
          [[`smoke zone ${ZONES[0]}`, 'done']],
          'the zone in flight finished, to its smoke',
        );
      });
      assert.equal(fake.count('ensureZoneSecret'), 1, 'no other zone started');
    });
  });
});
