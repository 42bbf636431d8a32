// RotateRoot's approval gate in the time-skipping environment: a day passes in
// milliseconds, and the mocked activities record what the workflow asked for.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { approveUpdate, statusQuery } from '../../src/workflows/definitions';
import { inventory } from '../support/dashi';
import { mockActivities, withWorker, workflowTestEnv } from '../support/workflow-env';

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
