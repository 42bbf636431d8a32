// Compensation that cannot make things worse, in the time-skipping environment with mocked
// activities: an undo runs only when the undos it depends on succeeded, a key is deleted only
// when no pod that could hold it runs, and the pending record is kept (with where each key
// is, by access-key ID and fingerprint) whenever any undo failed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { AK, ending, Fake, FP } from '../support/workflow-mocks';
import { withWorker, workflowTestEnv } from '../support/workflow-env';

let ids = 0;
const id = (what: string) => `${what}-${process.pid}-${++ids}`;
const SECRET = 'dashi-serving/dashi-rustfs-serving';
const ROLLOUT_STUCK = 'Deployment titiler exceeded its progress deadline';
const SMOKE_FAILED = 'smoke of zone serving failed 1 of 4 cells';
/** The smoke of what the Secret holds (after the promotion), not of the pending credential. */
const smokingSecret = (_zone: string, source?: string) => source === 'current';

describe('compensation (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const rotateZone = (fake: Fake, args: object) =>
    withWorker(env, fake.activities(), async (client, taskQueue) => {
      const workflowId = id('zone');
      await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId,
        args: [{ zone: 'serving', grace: '0s', ...args }],
      });
      return ending(client, workflowId);
    });
  const rotateRoot = (fake: Fake) =>
    withWorker(env, fake.activities(), async (client, taskQueue) => {
      const workflowId = id('root');
      await client.workflow.start('RotateRoot', { taskQueue, workflowId, args: [{ approve: true }] });
      return ending(client, workflowId);
    });
  const undoSteps = (end: Awaited<ReturnType<typeof rotateZone>>) =>
    end.status.steps.filter((s) => s.name.startsWith('compensate: ')).map((s) => [s.name, s.state]);

  describe('RotateZone', () => {
    it('every undo succeeds: Secret restored, new key removed, pending record deleted', async () => {
      const fake = new Fake().failFirst('waitForRollouts', ROLLOUT_STUCK);
      const end = await rotateZone(fake, {});
      assert.equal(end.type, 'RotationFailed');
      assert.match(end.message!, /Compensation completed: consumers are back on the previous credential/);
      assert.deepEqual(undoSteps(end), [
        ['compensate: restore the previous Secret and restart consumers', 'done'],
        ['compensate: remove the new credential from the store', 'done'],
        ['compensate: delete the pending Secret', 'done'],
      ]);
      assert.equal(fake.count('deleteZonePending'), 1);
    });

    it('in-place: the Secret restore fails → the store is NOT set back, the pending record is kept, the keys located', async () => {
      const fake = new Fake()
        .failWhen('smokeZone', smokingSecret, SMOKE_FAILED)
        .fail('restoreZonePrevious', 'RBAC denied: cannot update secrets "dashi-rustfs-serving"');
      const end = await rotateZone(fake, { strategy: 'in-place' });
      assert.equal(end.type, 'RotationFailed');
      assert.deepEqual(undoSteps(end), [
        ['compensate: restore the previous Secret and restart consumers', 'failed'],
        ['compensate: put the previous user secret back', 'skipped'],
        ['compensate: delete the pending Secret', 'skipped'],
      ]);
      assert.equal(fake.count('discardPendingIdentity'), 0, 'the store still matches the Secret');
      assert.equal(fake.count('deleteZonePending'), 0, 'the record of both keys is kept');
      assert.match(
        end.message!,
        /Compensation FAILED for: restore the previous Secret and restart consumers: RBAC denied.*; put the previous user secret back: skipped \(restore the previous Secret and restart consumers did not complete\); delete the pending Secret: skipped/,
      );
      assert.ok(
        end.message!.includes(
          `Where the keys are: Secret ${SECRET} holds the new ${AK.pending} ${FP.pending}; user secret in the store is the new ${AK.pending} ${FP.pending}; the pending record ${SECRET}-pending is kept with both.`,
        ),
        end.message,
      );
    });

    it('overlap: the Secret restore fails → the new key is NOT removed (the Secret holds it), record kept', async () => {
      const fake = new Fake()
        .failWhen('smokeZone', smokingSecret, SMOKE_FAILED)
        .fail('restoreZonePrevious', 'the apiserver is unreachable');
      const end = await rotateZone(fake, {});
      assert.deepEqual(undoSteps(end), [
        ['compensate: restore the previous Secret and restart consumers', 'failed'],
        ['compensate: remove the new credential from the store', 'skipped'],
        ['compensate: delete the pending Secret', 'skipped'],
      ]);
      assert.equal(fake.count('discardPendingIdentity'), 0);
      assert.equal(fake.count('deleteZonePending'), 0);
      assert.match(
        end.message!,
        new RegExp(
          `holds the new ${AK.pending} ${FP.pending}; previous ${AK.previous} ${FP.previous} valid in the store; new ${AK.pending} ${FP.pending} still valid`,
        ),
      );
    });

    it('overlap: the Secret is restored but the consumers never roll out → new key kept (pods may hold it), record kept', async () => {
      const fake = new Fake().fail('waitForRollouts', ROLLOUT_STUCK);
      const end = await rotateZone(fake, {});
      assert.deepEqual(undoSteps(end), [
        ['compensate: restore the previous Secret and restart consumers', 'failed'],
        ['compensate: remove the new credential from the store', 'skipped'],
        ['compensate: delete the pending Secret', 'skipped'],
      ]);
      assert.equal(fake.count('restoreZonePrevious'), 1);
      assert.equal(fake.count('discardPendingIdentity'), 0);
      assert.ok(
        end.message!.includes(
          `Where the keys are: Secret ${SECRET} holds the previous ${AK.previous} ${FP.previous}; previous ${AK.previous} ${FP.previous} valid in the store; new ${AK.pending} ${FP.pending} still valid;`,
        ),
        end.message,
      );
    });

    it('overlap: a pod that could hold the new key keeps running → the key is kept, bounded, record kept', async () => {
      const fake = new Fake()
        .failFirst('waitForRollouts', ROLLOUT_STUCK)
        .on('podsHoldingPrevious', async () => ['titiler-7d9f-abcde (Deployment/titiler)']);
      const end = await rotateZone(fake, {});
      assert.deepEqual(undoSteps(end), [
        ['compensate: restore the previous Secret and restart consumers', 'done'],
        ['compensate: remove the new credential from the store', 'failed'],
        ['compensate: delete the pending Secret', 'skipped'],
      ]);
      assert.equal(fake.count('podsHoldingPrevious'), 6, 'checked, waiting longer each time, then gave up');
      assert.equal(fake.count('discardPendingIdentity'), 0, 'not deleted while a pod may hold it');
      assert.equal(fake.count('deleteZonePending'), 0);
      assert.match(
        end.message!,
        new RegExp(
          `new key ${AK.pending} ${FP.pending} kept in the store: 1 pod\\(s\\) that could hold it still run: titiler-7d9f-abcde`,
        ),
      );
      assert.match(
        end.message!,
        new RegExp(`Secret ${SECRET} holds the previous ${AK.previous} ${FP.previous}`),
      );
    });

    it('overlap: a pod goes away during the checks → the key is removed, record deleted', async () => {
      const fake = new Fake()
        .failFirst('waitForRollouts', ROLLOUT_STUCK)
        .on('podsHoldingPrevious', async () =>
          fake.count('podsHoldingPrevious') < 3 ? ['titiler-old (terminating)'] : [],
        );
      const end = await rotateZone(fake, {});
      assert.match(end.message!, /Compensation completed/);
      assert.equal(fake.count('podsHoldingPrevious'), 3);
      assert.equal(fake.count('discardPendingIdentity'), 1);
      assert.equal(fake.count('deleteZonePending'), 1);
    });

    it('removing the new key fails before promotion → pending record kept, both keys named', async () => {
      const fake = new Fake()
        .fail('smokeZone', SMOKE_FAILED)
        .fail('discardPendingIdentity', 'the store is unreachable (ECONNREFUSED)');
      const end = await rotateZone(fake, {});
      assert.deepEqual(undoSteps(end), [
        ['compensate: remove the new credential from the store', 'failed'],
        ['compensate: delete the pending Secret', 'skipped'],
      ]);
      assert.equal(fake.count('restoreZonePrevious'), 0, 'the Secret was never changed');
      assert.ok(
        end.message!.includes(
          `Where the keys are: Secret ${SECRET} holds the previous ${AK.previous} ${FP.previous}; previous ${AK.previous} ${FP.previous} valid in the store; new ${AK.pending} ${FP.pending} still valid; the pending record ${SECRET}-pending is kept with both.`,
        ),
        end.message,
      );
    });
  });

  describe('RotateRoot', () => {
    it('patching the root Secret fails → Secret restored and verified, the store NOT restarted, record deleted', async () => {
      const fake = new Fake().fail('promoteRootPending', 'RBAC denied: cannot update secrets "rustfs-root"');
      const end = await rotateRoot(fake);
      assert.equal(end.type, 'RotationFailed');
      assert.match(end.message!, /Compensation completed/);
      const names = fake.names();
      assert.deepEqual(names.slice(names.indexOf('promoteRootPending')), [
        'promoteRootPending',
        'restoreRootPrevious',
        'waitForStoreWithRoot',
        'deleteRootPending',
      ]);
      assert.equal(fake.count('restartWorkloads'), 0, 'nothing changed that the running store uses');
      assert.equal(fake.count('ensureZoneIdentity'), 0);
    });

    it('restoring the root Secret fails → no restart onto it, record kept, the keys located', async () => {
      const fake = new Fake()
        .fail('waitForStoreWithRoot', 'store never became ready')
        .fail('restoreRootPrevious', 'the apiserver is unreachable');
      const end = await rotateRoot(fake);
      assert.deepEqual(
        end.status.steps.filter((s) => s.name.startsWith('compensate: ')).map((s) => [s.name, s.state]),
        [
          ['compensate: roll back to the previous root', 'failed'],
          ['compensate: delete the pending root Secret', 'skipped'],
        ],
      );
      assert.equal(fake.count('restartWorkloads'), 1, 'only the rotation restarted the store');
      assert.equal(fake.count('deleteRootPending'), 0);
      assert.ok(
        end.message!.includes(
          `Where the keys are: root Secret dashi-platform/rustfs-root holds ${FP.rootPending} (access key rustfsadmin); the store was restarted and may run on either root; the pending record dashi-platform/rustfs-root-pending is kept with the previous ${FP.rootPrevious} and the new ${FP.rootPending}.`,
        ),
        end.message,
      );
    });

    it('the store fails to come back with the previous root → zones not touched, record kept', async () => {
      const fake = new Fake().fail('waitForStoreWithRoot', 'store never became ready');
      const end = await rotateRoot(fake);
      assert.match(
        end.message!,
        /Compensation FAILED for: roll back to the previous root: store never became ready/,
      );
      assert.equal(fake.count('restartWorkloads'), 2, 'restarted by the rotation and by the rollback');
      assert.equal(fake.count('ensureZoneIdentity'), 0);
      assert.equal(fake.count('deleteRootPending'), 0);
    });
  });
});
