// RotateRoot's approval gate in the time-skipping environment: a day passes in
// milliseconds, and the mocked activities record what the workflow asked for.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { decisionsOfRun, type Decision, type DecisionRun } from '../../src/approvals/decisions';
import {
  approveUpdate,
  resumeUpdate,
  revokeNowUpdate,
  rollbackUpdate,
  statusQuery,
} from '../../src/workflows/definitions';
import { dashiInventory, inventory } from '../support/dashi';
import { mockActivities, withWorker, workflowTestEnv } from '../support/workflow-env';
import { ending, Fake, storeNeverBack, untilPhase } from '../support/workflow-mocks';
import { zoneActivities } from '../support/zone-activities';

function rootActivities(calls: string[]) {
  const record =
    <T>(name: string, value: T) =>
    async () => {
      calls.push(name);
      return value;
    };
  return mockActivities({
    inventorySnapshot: record('inventorySnapshot', inventory),
    assertNoConflictingRun: record('assertNoConflictingRun', undefined),
    verifyRoot: record('verifyRoot', {
      kind: 'rustfs',
      version: 'test',
      iamSurvivesRootChange: true,
    }) as never,
    describeRootSecret: record('describeRootSecret', {
      exists: true,
      accessKey: 'root',
      fingerprint: 'sha256:000000000000',
    }) as never,
  });
}

describe('RotateRoot approval gate (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('gives up after approvalTimeout without changing anything', async () => {
    const calls: string[] = [];
    await withWorker(env, rootActivities(calls), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: `approval-timeout-${Date.now()}`,
        args: [{ approvalTimeout: '2h' }],
      });
      const err = await handle.result().then(
        () => assert.fail('RotateRoot completed without approval'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'NotApproved');
      assert.match(err.cause.message, /not approved within 2h; nothing was changed/);
    });
    assert.deepEqual(calls, [
      'inventorySnapshot',
      'assertNoConflictingRun',
      'verifyRoot',
      'describeRootSecret',
    ]);
  });

  it('waits in awaiting-approval and refuses approve in any other phase', async () => {
    await withWorker(env, rootActivities([]), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: `approval-wait-${Date.now()}`,
        args: [{ approvalTimeout: '2h' }],
      });
      let status = await handle.query(statusQuery);
      for (let i = 0; status.phase !== 'awaiting-approval' && i < 50; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await handle.query(statusQuery);
      }
      assert.equal(status.phase, 'awaiting-approval');
      assert.deepEqual(status.awaiting, ['approve']);
      await handle.terminate('test done');
      await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{}] }));
    });
  });
});

/** config/dashi.yaml's approvals as committed: Kubernetes authorizes, no self- or input approval. */
const committed = { ...inventory, approvals: dashiInventory.approvals };

describe('RotateRoot decisions authorized by Kubernetes (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  /** A fake whose inventory is `inv` and whose apiserver holds `decisions`. */
  const withDecisions = (fake: Fake, decisions: Decision[], inv: object = committed) =>
    fake
      .on('inventorySnapshot', async () => inv)
      // As the worker's activity: the run's own decisions.
      .on('readDecisions', async (run: DecisionRun) => decisionsOfRun(decisions, run));
  let n = 0;
  const decision = (runId: string, action: Decision['action'], user: string): Decision => ({
    name: `${action}-${++n}`,
    workflowId: 'rotate-root',
    runId,
    action,
    target: 'root',
    user,
    createdAt: new Date(Date.UTC(2026, 11, 6, 23, 0, n)).toISOString(),
  });
  const failureOf = async (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => assert.fail('the update was accepted'),
      (err: Error) => String((err.cause as Error | undefined)?.message),
    );

  it('approve: true is refused as InvalidInput before anything changes, unless the inventory allows it', async () => {
    const fake = withDecisions(new Fake(), []);
    await withWorker(env, fake.activities(), async (client, taskQueue) => {
      await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: 'rotate-root',
        args: [{ approve: true }],
      });
      const end = await ending(client, 'rotate-root');
      assert.equal(end.type, 'InvalidInput');
      assert.match(
        end.message!,
        /approve: true in the input .* is refused: .*approvals\.allowInputApproval is false/,
      );
    });
    assert.deepEqual(fake.names(), ['inventorySnapshot']);

    const allowing = { ...committed, approvals: { ...committed.approvals, allowInputApproval: true } };
    const allowed = withDecisions(new Fake(), [], allowing);
    await withWorker(env, allowed.activities(), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: 'rotate-root',
        args: [{ approve: true }],
      });
      await handle.result();
      const status = await handle.query(statusQuery);
      assert.match(
        status.decisions![0]!.claimedBy!,
        /input \(approve: true, allowed by approvals\.allowInputApproval\)/,
      );
    });
    assert.equal(allowed.count('readDecisions'), 0);
  });

  it("refuses an approval with no decision and the requester's own, keeps waiting, and takes another approver's", async () => {
    const decisions: Decision[] = [];
    const fake = withDecisions(new Fake(), decisions);
    await withWorker(env, fake.activities(), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: 'rotate-root',
        args: [{}],
      });
      const runId = handle.firstExecutionRunId;
      await untilPhase(client, 'rotate-root', 'awaiting-approval');
      assert.match(
        await failureOf(handle.executeUpdate(approveUpdate, { args: [{ by: 'someone' }] })),
        new RegExp(
          `^no approve by an authorized identity exists for run ${runId} of rotate-root: create one with \`rotator approve rotate-root\``,
        ),
      );
      decisions.push(decision(runId, 'request', 'alice'), decision(runId, 'approve', 'alice'));
      assert.match(
        await failureOf(handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] })),
        /alice requested run .* and may not approve it/,
      );
      // A decision for another run of the same workflow ID answers nothing here.
      decisions.push(decision('an-earlier-run', 'approve', 'bob'));
      await failureOf(handle.executeUpdate(approveUpdate, { args: [{}] }));
      const waiting = await handle.query(statusQuery);
      assert.equal(waiting.phase, 'awaiting-approval');
      assert.equal(waiting.decisions, undefined);
      assert.equal(fake.count('lockRootPending'), 0, 'nothing changed');

      decisions.push(decision(runId, 'approve', 'bob'));
      const answer = await handle.executeUpdate(approveUpdate, {
        args: [{ by: 'alice@laptop', reason: 'CHG-1' }],
      });
      assert.equal(
        answer,
        'root rotation approved by bob (authenticated by Kubernetes; claimed: alice@laptop)',
      );
      await handle.result();
      const status = await handle.query(statusQuery);
      assert.deepEqual(
        status.decisions!.map((d) => [d.action, d.users, d.starter, d.claimedBy, d.reason]),
        [['approve', ['bob'], 'alice', 'alice@laptop', 'CHG-1']],
      );
      assert.ok(
        status.steps.some(
          (s) => s.name === 'approved by bob (authenticated by Kubernetes; claimed: alice@laptop): CHG-1',
        ),
      );
    });
    assert.equal(fake.count('readDecisions'), 4);
  });

  it('a run with no authenticated requester needs two approvers; allowSelfApproval lets the requester approve, recorded', async () => {
    const decisions: Decision[] = [];
    await withWorker(env, withDecisions(new Fake(), decisions).activities(), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: 'rotate-root',
        args: [{}],
      });
      const runId = handle.firstExecutionRunId;
      await untilPhase(client, 'rotate-root', 'awaiting-approval');
      decisions.push(decision(runId, 'approve', 'bob'));
      assert.match(
        await failureOf(handle.executeUpdate(approveUpdate, { args: [{}] })),
        /no authenticated requester .* two different authorized identities, and so far only bob approved/,
      );
      decisions.push(decision(runId, 'approve', 'carol'));
      assert.match(
        await handle.executeUpdate(approveUpdate, { args: [{}] }),
        /^root rotation approved by bob and carol \(authenticated by Kubernetes\)$/,
      );
      await handle.result();
    });

    const self = { ...committed, approvals: { ...committed.approvals, allowSelfApproval: true } };
    const own: Decision[] = [];
    await withWorker(env, withDecisions(new Fake(), own, self).activities(), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: 'rotate-root',
        args: [{}],
      });
      const runId = handle.firstExecutionRunId;
      await untilPhase(client, 'rotate-root', 'awaiting-approval');
      own.push(decision(runId, 'request', 'alice'), decision(runId, 'approve', 'alice'));
      assert.match(
        await handle.executeUpdate(approveUpdate, { args: [{}] }),
        /approved by alice \(authenticated by Kubernetes; self-approved, allowed by approvals\.allowSelfApproval\)/,
      );
      await handle.result();
      assert.equal((await handle.query(statusQuery)).decisions![0]!.selfApproved, true);
    });
  });

  it('paused: resume and rollback each need a decision of their own, each decision answering once', async () => {
    const decisions: Decision[] = [];
    const fake = withDecisions(storeNeverBack(), decisions, {
      ...committed,
      approvals: { ...committed.approvals, allowInputApproval: true },
    });
    await withWorker(env, fake.activities(), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: 'rotate-root',
        args: [{ approve: true, restartTimeout: '3s', pauseTimeout: '1h' }],
      });
      const runId = handle.firstExecutionRunId;
      await untilPhase(client, 'rotate-root', 'paused');
      decisions.push(decision(runId, 'approve', 'bob'));
      assert.match(
        await failureOf(handle.executeUpdate(resumeUpdate, { args: [{}] })),
        /^no resume by an authorized identity/,
      );
      decisions.push(decision(runId, 'resume', 'bob'));
      assert.match(
        await handle.executeUpdate(resumeUpdate, { args: [{}] }),
        /resumed by bob \(authenticated by Kubernetes\)/,
      );
      await untilPhase(client, 'rotate-root', 'paused');
      // bob's resume answered the first pause; the second needs a decision of its own.
      assert.match(
        await failureOf(handle.executeUpdate(resumeUpdate, { args: [{}] })),
        /^no resume by an authorized identity/,
      );
      decisions.push(decision(runId, 'rollback', 'carol'));
      assert.match(
        await handle.executeUpdate(rollbackUpdate, { args: [{}] }),
        /\(by carol \(authenticated by Kubernetes\)\)/,
      );
      const end = await ending(client, 'rotate-root');
      assert.equal(end.type, 'RolledBack');
      assert.match(end.message!, /rollback requested by carol \(authenticated by Kubernetes\)/);
    });
  });

  it('RotateZone continued as new: revokeNow needs a revoke-now decision for the zone, read with the inventory it loads then', async () => {
    const decisions: Decision[] = [];
    const zone = zoneActivities(() => ['dashi-serving/titiler-old-7d9f (Unknown)']);
    const activities = {
      ...zone.activities,
      inventorySnapshot: async () => committed,
      readDecisions: async (run: DecisionRun) => decisionsOfRun(decisions, run),
    };
    await withWorker(env, activities, async (client, taskQueue) => {
      const workflowId = `approval-zone-${Date.now()}`;
      const first = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId,
        args: [{ zone: 'serving', grace: '10m', maxGrace: '7d' }],
      });
      await env.sleep('1 day');
      const latest = client.workflow.getHandle(workflowId);
      for (let i = 0; (await latest.query(statusQuery)).phase !== 'waiting-grace' && i < 100; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.notEqual((await latest.describe()).runId, first.firstExecutionRunId, 'continued as new');
      assert.match(
        await failureOf(latest.executeUpdate(revokeNowUpdate, { args: [{ by: 'tester' }] })),
        new RegExp(
          `^no revoke-now by an authorized identity exists for run ${first.firstExecutionRunId} of ${workflowId}`,
        ),
      );
      const base = { workflowId, runId: first.firstExecutionRunId, createdAt: '2026-12-06T23:30:00.000Z' };
      // Another zone's revocation answers nothing here.
      decisions.push({
        ...base,
        name: 'revoke-1',
        action: 'revoke-now',
        target: 'zone-ingest',
        user: 'carol',
      });
      await failureOf(latest.executeUpdate(revokeNowUpdate, { args: [{}] }));
      decisions.push({
        ...base,
        name: 'revoke-2',
        action: 'revoke-now',
        target: 'zone-serving',
        user: 'carol',
      });
      assert.equal(
        await latest.executeUpdate(revokeNowUpdate, { args: [{ by: 'tester' }] }),
        'previous key of zone serving will be revoked now (requested by carol (authenticated by Kubernetes; claimed: tester))',
      );
      await latest.result();
    });
    assert.ok(zone.calls.includes('revokePrevious'));
  });

  it('with approvals.authority any-temporal-client the claimed name is taken, the status recording no authority authenticated it', async () => {
    const fake = new Fake();
    await withWorker(env, fake.activities(), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: 'rotate-root',
        args: [{}],
      });
      await untilPhase(client, 'rotate-root', 'awaiting-approval');
      assert.equal(
        await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] }),
        'root rotation approved by alice',
      );
      await handle.result();
      const [d] = (await handle.query(statusQuery)).decisions!;
      assert.deepEqual([d!.authority, d!.users, d!.claimedBy], ['any-temporal-client', [], 'alice']);
    });
    assert.equal(fake.count('readDecisions'), 0);
  });
});
