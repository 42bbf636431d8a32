// RotateRoot's two strategies on a 4-pod store (issue 25 point 3), in the time-skipping
// environment with mocked activities: `rolling` restarts one pod at a time, each waited for
// through its own node before the next; a pause in the middle resumes or rolls back one pod at a
// time (on request, on no answer, on a cancel), and every path ends checking every node on one
// root; `all-at-once` deletes every pod together; a rolling that would split the cluster is
// refused before anything changes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { resumeUpdate, rollbackUpdate } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { ending, type Fake, fourPodStore, FP, inventory, untilPhase, ZONES } from '../support/workflow-mocks';
import { withWorker, workflowTestEnv } from '../support/workflow-env';

let ids = 0;
const id = (what: string) => `root-strategies-${what}-${process.pid}-${++ids}`;

/** The store pod calls in order: [activity, pod, root] (root for waits). */
const podCalls = (fake: Fake) =>
  fake.calls.flatMap((c) => {
    if (c.name === 'restartStorePods')
      return [['restart', (c.args[0] as string[] | undefined)?.join(',') ?? 'all']];
    if (c.name === 'waitForStoreNode') {
      const o = c.args[0] as { pod: string; expectFingerprint: string };
      return [['wait', o.pod, o.expectFingerprint === FP.rootPending ? 'new' : 'previous']];
    }
    if (c.name === 'waitForStoreWithRoot')
      return [
        [
          'every node',
          (c.args[0] as { expectFingerprint: string }).expectFingerprint === FP.rootPending
            ? 'new'
            : 'previous',
        ],
      ];
    return [];
  });

const ROLL = ['rustfs-3', 'rustfs-2', 'rustfs-1', 'rustfs-0'].flatMap((p) => [
  ['restart', p],
  ['wait', p, 'new'],
]);

describe('RotateRoot strategies on a 4-pod store (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const run = (fake: Fake, args: object) =>
    withWorker(env, fake.activities(), (client, taskQueue) =>
      client.workflow.execute('RotateRoot', { taskQueue, workflowId: id('run'), args: [args] }),
    ) as Promise<WorkflowResult>;

  it('rolling by default where preflight proves it safe: one pod at a time, each checked, then every node', async () => {
    const fake = fourPodStore();
    const result = await run(fake, { approve: true });
    assert.deepEqual(podCalls(fake), [...ROLL, ['every node', 'new']]);
    assert.equal(fake.count('restartWorkloads'), 0, 'no rollout restart: it would check no node');
    assert.ok(fake.names().indexOf('promoteRootPending') < fake.names().indexOf('restartStorePods'));
    assert.ok(fake.names().lastIndexOf('waitForStoreWithRoot') < fake.names().indexOf('ensureZoneIdentity'));
    assert.equal(result.outcome, 'completed');
    assert.equal(result.root?.strategy, 'rolling');
    assert.equal(typeof result.root?.rollMs, 'number');
    assert.equal(result.root?.storeDowntimeMs, undefined);
  });

  it('the plan states the strategy and the downtime; all-at-once when asked', async () => {
    const rolling = await run(fourPodStore(), { dryRun: true });
    assert.ok(rolling.plan!.notes.includes('strategy rolling: 4 store pods'), rolling.plan!.notes.join('\n'));
    assert.match(
      rolling.plan!.expectedDowntime,
      /^none for consumers through the Service: the 4 pods of StatefulSet\/dashi-platform\/rustfs restart one at a time .* for 15 s/,
    );
    const atOnce = await run(fourPodStore(), { dryRun: true, strategy: 'all-at-once' });
    assert.ok(atOnce.plan!.notes.includes('strategy all-at-once: 4 store pods'));
    assert.match(atOnce.plan!.expectedDowntime, /^full store downtime while all 4 pods .* restart together/);
    assert.ok(
      atOnce.plan!.actions.some(
        (a) => a.detail === 'every pod deleted together: the store restarts with the new root',
      ),
    );
  });

  it('all-at-once: every pod deleted together, one window, the store checked as a whole', async () => {
    const fake = fourPodStore();
    const result = await run(fake, { approve: true, strategy: 'all-at-once' });
    assert.deepEqual(podCalls(fake), [
      ['restart', 'all'],
      ['every node', 'new'],
    ]);
    assert.equal(result.root?.strategy, 'all-at-once');
    assert.equal(typeof result.root?.storeDowntimeMs, 'number');
  });

  it('the inventory chooses the strategy when the input does not', async () => {
    const fake = fourPodStore();
    fake.on('inventorySnapshot', async () => ({
      ...inventory,
      store: { ...inventory.store, rootStrategy: 'all-at-once' },
    }));
    const result = await run(fake, { approve: true });
    assert.equal(result.root?.strategy, 'all-at-once');
  });

  for (const [what, over, reason] of [
    [
      'RPC secret not pinned',
      {
        rpcSecret: {
          pinned: false,
          reason:
            'RUSTFS_RPC_SECRET is not set: the nodes derive their node-to-node secret from the root credentials',
        },
      },
      /RUSTFS_RPC_SECRET is not set.*"No valid auth token".*Fix: pin RUSTFS_RPC_SECRET/,
    ],
    [
      'no node endpoints',
      { podsWithEndpoints: 0 },
      /names the endpoint of 0 of the 4 pods.*Fix: set store.nodeEndpoints/,
    ],
    [
      'no node may be down',
      { erasure: { servers: 4, sets: 1, drivesPerSet: 4, parity: 2, drivesDown: 1, nodesTolerated: 0 } },
      /keep their write quorum with no node down/,
    ],
  ] as const) {
    it(`rolling asked for with ${what}: refused before anything changes, with the reason and the fix`, async () => {
      const fake = fourPodStore({ over });
      const end = await withWorker(env, fake.activities(), async (client, taskQueue) => {
        const workflowId = id('refused');
        await client.workflow.start('RotateRoot', {
          taskQueue,
          workflowId,
          args: [{ approve: true, strategy: 'rolling' }],
        });
        return ending(client, workflowId);
      });
      assert.equal(end.type, 'TopologyRefused');
      assert.match(end.message!, reason);
      assert.deepEqual(fake.names(), [
        'inventorySnapshot',
        'assertNoConflictingRun',
        'verifyRoot',
        'describeRootSecret',
      ]);
    });
  }

  it('without a pinned RPC secret the default is all-at-once', async () => {
    const fake = fourPodStore({ over: { rpcSecret: { pinned: false, reason: 'not set' } } });
    const result = await run(fake, { approve: true });
    assert.equal(result.root?.strategy, 'all-at-once');
  });

  /** Starts a rolling run whose second pod (rustfs-2) never comes back; resolves once paused. */
  const pausedRoll = async (
    fake: Fake,
    body: (client: Client, workflowId: string) => Promise<void>,
    pauseTimeout = '1h',
  ) =>
    withWorker(env, fake.activities(), async (client, taskQueue) => {
      const workflowId = id('paused');
      await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId,
        args: [{ approve: true, restartTimeout: '3s', pauseTimeout }],
      });
      const paused = await untilPhase(client, workflowId, 'paused');
      assert.match(paused.pauseReason ?? '', /store pod rustfs-2 not back within 3s/);
      await body(client, workflowId);
      return ending(client, workflowId);
    });

  /** The way back: previous root into the Secret, the pods asked so far restarted again, last first. */
  const BACK = [
    ['restart', 'rustfs-2'],
    ['wait', 'rustfs-2', 'previous'],
    ['restart', 'rustfs-3'],
    ['wait', 'rustfs-3', 'previous'],
    ['every node', 'previous'],
  ];
  const FORWARD_TO_PAUSE = [...ROLL.slice(0, 3), ['wait', 'rustfs-2', 'new']];

  it('paused in the middle of the roll → resume: the same pod waited for again, then the rest', async () => {
    const fake = fourPodStore({ stuck: 'rustfs-2' });
    let stillStuck = true;
    fake.on('waitForStoreNode', async (o: { pod: string; expectFingerprint: string }) => {
      if (o.pod === 'rustfs-2' && stillStuck) {
        stillStuck = false;
        throw ApplicationFailure.nonRetryable(
          'store pod rustfs-2 not back within 3s',
          'RestartWindowExceeded',
        );
      }
      return 'back';
    });
    const end = await pausedRoll(fake, async (client, workflowId) => {
      await client.workflow.getHandle(workflowId).executeUpdate(resumeUpdate, { args: [{ by: 'oncall' }] });
    });
    assert.equal(end.execution, 'COMPLETED');
    assert.deepEqual(podCalls(fake), [
      ...FORWARD_TO_PAUSE,
      ['wait', 'rustfs-2', 'new'],
      ...ROLL.slice(4),
      ['every node', 'new'],
    ]);
    assert.equal(fake.count('restoreRootPrevious'), 0);
  });

  it('paused in the middle of the roll → rollback: back one pod at a time, the stuck one first, every node on the previous root', async () => {
    const fake = fourPodStore({ stuck: 'rustfs-2' });
    const end = await pausedRoll(fake, async (client, workflowId) => {
      await client.workflow.getHandle(workflowId).executeUpdate(rollbackUpdate, { args: [{ by: 'oncall' }] });
    });
    assert.equal(end.type, 'RolledBack');
    assert.deepEqual(end.status.compensationErrors, []);
    assert.equal(end.status.fingerprints.current, FP.rootPrevious);
    assert.deepEqual(podCalls(fake), [...FORWARD_TO_PAUSE, ...BACK]);
    const names = fake.names();
    assert.ok(
      names.indexOf('restoreRootPrevious') < names.lastIndexOf('restartStorePods'),
      'the Secret first',
    );
    assert.deepEqual(names.slice(names.lastIndexOf('waitForStoreWithRoot') + 1), [
      ...ZONES.flatMap(() => ['ensureZoneIdentity', 'smokeZone'] as const),
      'deleteRootPending',
    ]);
  });

  it('paused in the middle of the roll, nobody answers → the automatic rollback, one pod at a time', async () => {
    const fake = fourPodStore({ stuck: 'rustfs-2' });
    const end = await pausedRoll(fake, async () => {}, '30m');
    assert.equal(end.type, 'RolledBack');
    assert.match(end.message!, /no answer within pauseTimeout 30m: automatic rollback/);
    assert.deepEqual(podCalls(fake), [...FORWARD_TO_PAUSE, ...BACK]);
  });

  it('canceled while a pod is being waited for: the undo (not cancellable) rolls back the pods asked so far', async () => {
    const fake = fourPodStore();
    fake.on('waitForStoreNode', async (o: { pod: string; expectFingerprint: string }) => {
      if (o.pod === 'rustfs-2' && o.expectFingerprint === FP.rootPending) {
        // Blocks until the run's cancel reaches it (heartbeats so the cancel is delivered).
        const ctx = Context.current();
        for (;;) {
          ctx.heartbeat();
          await Promise.race([ctx.cancelled, new Promise((r) => setTimeout(r, 100))]);
        }
      }
      return 'back';
    });
    const end = await withWorker(env, fake.activities(), async (client, taskQueue) => {
      const workflowId = id('cancel');
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId,
        args: [{ approve: true }],
      });
      for (let i = 0; i < 300 && fake.calls.filter((c) => c.name === 'waitForStoreNode').length < 2; i++)
        await new Promise((r) => setTimeout(r, 50));
      await handle.cancel();
      return ending(client, workflowId);
    });
    assert.equal(end.execution, 'CANCELLED');
    assert.equal(end.status.fingerprints.current, FP.rootPrevious);
    assert.deepEqual(end.status.compensationErrors, []);
    assert.deepEqual(podCalls(fake), [...FORWARD_TO_PAUSE, ...BACK]);
  });
});
