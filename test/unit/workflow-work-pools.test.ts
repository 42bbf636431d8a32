// BootstrapCluster and the zones' Prefect work pools in the time-skipping environment: the
// injection is ensured after the zone's Secret, only for zones that name pools, and a
// conflicting template stops the run with the activity's non-retryable failure.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { rootCause } from '../../src/cli/render';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { workflowTestEnv, withWorker } from '../support/workflow-env';
import { inventory, zoneActivities } from '../support/zone-mocks';

const withPools = inventory.zones.filter((z) => z.workPools.length).map((z) => z.name);

describe('BootstrapCluster: Prefect work pools (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('ensures the pools of each zone that names some, after its Secret; the plan lists them', async () => {
    assert.deepEqual(withPools, ['pipeline'], 'the dashi inventory names a pool for the pipeline zone');
    const calls: string[] = [];
    const acts = zoneActivities(calls, {
      describeZoneIdentity: async () => ({ userExists: true, serviceAccounts: [] }),
    });
    await withWorker(env, acts, async (client, taskQueue) => {
      const handle = await client.workflow.start('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-pools-${Date.now()}`,
        args: [{}],
      });
      const result: WorkflowResult = await handle.result();
      assert.equal(result.outcome, 'completed');
      assert.deepEqual(
        calls.filter((c) => c.startsWith('ensureWorkPools')),
        ['ensureWorkPools pipeline'],
      );
      assert.ok(
        calls.indexOf('ensureZoneSecret pipeline') < calls.indexOf('ensureWorkPools pipeline'),
        'the template references the Secret: it is ensured first',
      );
      const status = await handle.query(statusQuery);
      assert.match(
        status.steps.find((s) => s.name === 'ensure work pools of zone pipeline')!.detail!,
        /^dashi-default: kept$/,
      );
      const plan: WorkflowResult = await client.workflow.execute('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-pools-plan-${Date.now()}`,
        args: [{ dryRun: true }],
      });
      assert.ok(
        plan.plan!.actions.some(
          (a) =>
            a.action === 'patch' &&
            /^work pool dashi-default \(http/.test(a.target) &&
            /secretKeyRef dashi-rustfs-pipeline/.test(a.detail),
        ),
      );
    });
  });

  it('a pool template it did not expect fails the run at once, naming pool and entry', async () => {
    const calls: string[] = [];
    let attempts = 0;
    const acts = zoneActivities(calls, {
      ensureWorkPools: async () => {
        attempts++;
        throw ApplicationFailure.nonRetryable(
          'work pool "dashi-default": env AWS_ACCESS_KEY_ID: holds a literal value',
          'WorkPoolConflict',
        );
      },
    });
    await withWorker(env, acts, async (client, taskQueue) => {
      const err = await client.workflow
        .execute('BootstrapCluster', {
          taskQueue,
          workflowId: `bootstrap-pools-conflict-${Date.now()}`,
          args: [{}],
        })
        .then(
          () => assert.fail('bootstrap completed over a conflicting template'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(rootCause(err), /work pool "dashi-default": env AWS_ACCESS_KEY_ID: holds a literal value/);
      assert.equal(attempts, 1, 'not retried');
    });
  });
});
