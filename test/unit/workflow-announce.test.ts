// Events and notifications of each outcome, in the time-skipping environment with mocked
// activities: what each run announces and when, and that announcing can neither fail nor
// hold up a rotation (an announce activity that always fails is retried a bounded number
// of times, recorded on the run, and the run ends as it would have).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { approveUpdate, rollbackUpdate, statusQuery } from '../../src/workflows/definitions';
import { type Announcement, type WorkflowStatus } from '../../src/workflows/types';
import { AK, ending, Fake, FP, storeNeverBack, untilPhase } from '../support/workflow-mocks';
import { withWorker, workflowTestEnv } from '../support/workflow-env';

let ids = 0;
const id = (what: string) => `${what}-${process.pid}-${++ids}`;

const TITILER = { kind: 'Deployment', namespace: 'dashi-serving', name: 'titiler' };
const STORE = { kind: 'StatefulSet', namespace: 'dashi-platform', name: 'rustfs' };

/** A Fake whose announce calls are recorded (and succeed). */
function announcing(fake = new Fake()): Fake {
  return fake.on('announce', async () => ({ events: [], notified: [] }));
}

const announcements = (fake: Fake) =>
  fake.calls.filter((c) => c.name === 'announce').map((c) => c.args[0] as Announcement);

/** Each announcement as `reason target type` lines plus `notify kind`. */
const shape = (a: Announcement) => [
  ...a.events.map(
    (e) =>
      `${e.reason} ${'secretOf' in e.target ? `${e.target.secretOf} Secret` : `${e.target.kind}/${e.target.name}`} ${e.type}`,
  ),
  ...(a.notification ? [`notify ${a.notification.kind}`] : []),
];

describe('events and notifications (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  describe('RotateZone', () => {
    it('completed: Rotated and ConsumersRestarted after the rollout, PreviousKeyRevoked with the end', async () => {
      const fake = announcing();
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        await client.workflow.execute('RotateZone', {
          taskQueue,
          workflowId: id('zone-ok'),
          args: [{ zone: 'serving', grace: '0s' }],
        });
      });
      const all = announcements(fake);
      assert.deepEqual(all.map(shape), [
        [
          'Rotated zone Secret Normal',
          'ConsumersRestarted zone Secret Normal',
          'ConsumersRestarted Deployment/titiler Normal',
        ],
        ['PreviousKeyRevoked zone Secret Normal', 'notify completed'],
      ]);
      assert.deepEqual(
        all.map((a) => a.seq),
        [1, 2],
      );
      assert.ok(all.every((a) => a.workflow === 'RotateZone' && a.zone === 'serving'));
      const [rotated, restarted, workload] = all[0]!.events;
      assert.match(
        rotated!.message,
        new RegExp(`${AK.pending} \\(${FP.pending}\\), replacing ${AK.previous}`),
      );
      assert.match(restarted!.message, /Deployment\/dashi-serving\/titiler/);
      assert.deepEqual(workload!.target, TITILER);
      assert.match(all[1]!.events[0]!.message, new RegExp(`previous key ${FP.previous} revoked`));
      assert.match(all[1]!.notification!.text, /zone serving rotated/);
      // The end is announced before the run closes: the activity ran inside the run.
      assert.equal(fake.names().at(-1), 'announce');
    });

    it('a failed rollout: RolledBack on the Secret, the consumers restarted back, notify failed', async () => {
      const fake = announcing().failFirst('waitForRollouts', 'rollout of titiler stuck');
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('zone-rollout');
        await client.workflow.start('RotateZone', { taskQueue, workflowId, args: [{ zone: 'serving' }] });
        const end = await ending(client, workflowId);
        assert.equal(end.type, 'RotationFailed');
      });
      const all = announcements(fake);
      assert.deepEqual(all.map(shape), [
        ['RolledBack zone Secret Warning', 'ConsumersRestarted Deployment/titiler Warning', 'notify failed'],
      ]);
      const [end] = all;
      assert.match(end!.events[0]!.message, /rollout of titiler stuck.*Compensation completed/);
      assert.match(end!.events[1]!.message, new RegExp(`back onto the previous key ${AK.previous}`));
      assert.equal(end!.notification!.title, 'RotateZone zone serving FAILED');
    });

    it('canceled in the grace wait: undone, RolledBack and notify canceled', async () => {
      const fake = announcing();
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('zone-cancel');
        const handle = await client.workflow.start('RotateZone', {
          taskQueue,
          workflowId,
          args: [{ zone: 'serving', grace: '1h' }],
        });
        await untilPhase(client, workflowId, 'waiting-grace');
        await handle.cancel();
        const end = await ending(client, workflowId);
        assert.equal(end.execution, 'CANCELLED');
      });
      const all = announcements(fake);
      assert.deepEqual(all.at(-1) && shape(all.at(-1)!), [
        'RolledBack zone Secret Warning',
        'ConsumersRestarted Deployment/titiler Warning',
        'notify canceled',
      ]);
      assert.match(all.at(-1)!.notification!.text, /^canceled; undone: /);
    });

    it('the grace bound: notify escalated when it is reached, PreviousKeyRevoked as a Warning', async () => {
      const fake = announcing().on('podsHoldingPrevious', async () => ['titiler-old-1 (Deployment/titiler)']);
      const workflowId = id('zone-escalated');
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        await client.workflow.execute('RotateZone', {
          taskQueue,
          workflowId,
          args: [{ zone: 'serving', grace: '1m', maxGrace: '2h' }],
        });
      });
      const all = announcements(fake);
      assert.deepEqual(all.slice(1).map(shape), [
        ['notify escalated'],
        ['PreviousKeyRevoked zone Secret Warning', 'notify completed'],
      ]);
      const escalated = all[1]!.notification!;
      assert.match(escalated.title, /maxGrace 2h reached/);
      assert.match(escalated.text, /titiler-old-1/);
      assert.deepEqual(escalated.commands, [`rotator status ${workflowId}`]);
      assert.match(all[2]!.notification!.title, /completed with an escalation/);
    });

    it('an announce activity that always fails: bounded retries, recorded, the rotation completes', async () => {
      const fake = new Fake().on('announce', async () => {
        throw ApplicationFailure.retryable('sink down', 'AnnounceFailed');
      });
      let status!: WorkflowStatus;
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('zone-sink-down');
        const result = await client.workflow.execute('RotateZone', {
          taskQueue,
          workflowId,
          args: [{ zone: 'serving', grace: '0s' }],
        });
        assert.equal(result.outcome, 'completed');
        status = await client.workflow.getHandle(workflowId).query(statusQuery);
      });
      assert.equal(status.phase, 'completed');
      // Two announcements, three attempts each (announceCall's maximumAttempts).
      assert.equal(fake.count('announce'), 6);
      assert.equal(status.announceErrors?.length, 2);
      assert.match(
        status.announceErrors![0]!,
        /^Rotated, ConsumersRestarted, ConsumersRestarted: .*sink down/,
      );
      assert.match(status.announceErrors![1]!, /^PreviousKeyRevoked, notify completed: .*sink down/);
      assert.ok(status.steps.every((s) => s.state === 'done'));
      assert.equal(status.lastError, undefined);
    });
  });

  describe('RotateRoot', () => {
    it('awaiting approval, paused and rolled back: each announced with its deadline and the commands that answer it', async () => {
      const fake = announcing(storeNeverBack());
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('root-rollback');
        const handle = await client.workflow.start('RotateRoot', {
          taskQueue,
          workflowId,
          args: [{ restartTimeout: '3s', pauseTimeout: '1h' }],
        });
        await untilPhase(client, workflowId, 'awaiting-approval');
        await fake.called('announce');
        const [approval] = announcements(fake);
        assert.deepEqual(shape(approval!), ['notify awaiting-approval']);
        assert.deepEqual(approval!.notification!.commands, [
          `rotator approve ${workflowId} --by <you> --reason <change ticket>`,
        ]);
        assert.match(approval!.notification!.deadline!.what, /expires unapproved/);

        await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
        const paused = await untilPhase(client, workflowId, 'paused');
        await fake.called('announce', 2);
        const pause = announcements(fake)[1]!;
        assert.deepEqual(shape(pause), ['RootRotationPaused root Secret Warning', 'notify paused']);
        assert.deepEqual(pause.notification!.commands, [
          `rotator resume ${workflowId} --by <you> --reason <why>`,
          `rotator rollback ${workflowId} --by <you> --reason <why>`,
        ]);
        assert.equal(pause.notification!.deadline!.what, 'automatic rollback to the previous root');
        const pausedAt = Date.parse([...paused.steps].reverse().find((s) => s.state === 'failed')!.endedAt!);
        const rollbackIn = Date.parse(pause.notification!.deadline!.at) - pausedAt;
        assert.ok(Math.abs(rollbackIn - 3_600_000) < 60_000, `automatic rollback in ${rollbackIn} ms`);
        assert.match(pause.events[0]!.message, new RegExp(`new root ${FP.rootPending} patched`));

        await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'bob', reason: 'crash loop' }] });
        const end = await ending(client, workflowId);
        assert.equal(end.type, 'RolledBack');
      });
      const end = announcements(fake).at(-1)!;
      assert.deepEqual(shape(end), [
        'RolledBack root Secret Warning',
        'ConsumersRestarted StatefulSet/rustfs Warning',
        'notify rolled-back',
      ]);
      assert.deepEqual(end.events[1]!.target, STORE);
      assert.match(end.notification!.text, /rollback requested by bob: crash loop/);
      assert.equal(announcements(fake).length, 3);
    });

    it('completed: Rotated on the root Secret and ConsumersRestarted on the store once it is back', async () => {
      const fake = announcing();
      await withWorker(env, fake.activities(), async (client, taskQueue) => {
        await client.workflow.execute('RotateRoot', {
          taskQueue,
          workflowId: id('root-ok'),
          args: [{ approve: true }],
        });
      });
      const all = announcements(fake);
      assert.deepEqual(all.map(shape), [
        ['Rotated root Secret Normal', 'ConsumersRestarted StatefulSet/rustfs Normal'],
        ['notify completed'],
      ]);
      assert.match(
        all[0]!.events[0]!.message,
        new RegExp(`new root ${FP.rootPending}.*replacing ${FP.rootPrevious}`),
      );
      // Announced once the store was back with the new root.
      const names = fake.names();
      assert.ok(names.indexOf('announce') > names.indexOf('waitForStoreWithRoot'));
    });
  });

  it('BootstrapCluster: notify completed, no Events', async () => {
    const fake = announcing();
    await withWorker(env, fake.activities(), async (client, taskQueue) => {
      await client.workflow.execute('BootstrapCluster', {
        taskQueue,
        workflowId: id('bootstrap'),
        args: [{}],
      });
    });
    assert.deepEqual(announcements(fake).map(shape), [['notify completed']]);
  });

  it('a dry run announces nothing', async () => {
    const fake = announcing();
    await withWorker(env, fake.activities(), async (client, taskQueue) => {
      await client.workflow.execute('RotateZone', {
        taskQueue,
        workflowId: id('zone-plan'),
        args: [{ zone: 'serving', dryRun: true }],
      });
    });
    assert.equal(fake.count('announce'), 0);
  });
});
