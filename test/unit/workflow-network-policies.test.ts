// BootstrapCluster and the inventory's NetworkPolicies in the time-skipping environment: applied
// once, after every zone is ensured and before any RotateZone child; not at all when the
// inventory does not ask; a refusal ends the run with the activity's failure and its message.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { rootCause } from '../../src/cli/render';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { workflowTestEnv, withWorker } from '../support/workflow-env';
import { inventory, ZONES, zoneActivities } from '../support/zone-mocks';

describe('BootstrapCluster: NetworkPolicies (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const identity = {
    describeZoneIdentity: async () => ({ userExists: true, serviceAccounts: [] }),
    inventorySnapshot: async () => inventory,
  };

  it('applies them once, after every zone and before the RotateZone children; the plan says so', async () => {
    assert.equal(inventory.networkPolicies?.apply, true, 'config/dashi.yaml applies them');
    const calls: string[] = [];
    await withWorker(env, zoneActivities(calls, identity), async (client, taskQueue) => {
      const handle = await client.workflow.start('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-netpol-${Date.now()}`,
        args: [{ rotate: true }],
      });
      const result: WorkflowResult = await handle.result();
      assert.equal(result.outcome, 'completed');
      const at = calls.indexOf('applyNetworkPolicies');
      assert.equal(calls.filter((c) => c === 'applyNetworkPolicies').length, 1);
      for (const zone of ZONES) {
        assert.ok(calls.indexOf(`ensureZoneSecret ${zone}`) < at, `zone ${zone} is ensured first`);
        assert.ok(calls.indexOf(`lockZonePending ${zone}`) > at, `zone ${zone} rotates after`);
      }
      const status = await handle.query(statusQuery);
      assert.equal(
        status.steps.find((s) => s.name === 'apply NetworkPolicies')!.detail,
        'dashi-platform/rotator-store-access: created',
      );
      const plan: WorkflowResult = await client.workflow.execute('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-netpol-plan-${Date.now()}`,
        args: [{ dryRun: true }],
      });
      assert.ok(
        plan.plan!.actions.some(
          (a) =>
            a.target === 'NetworkPolicy dashi-platform/rotator-store-access' &&
            /store port 9000/.test(a.detail),
        ),
      );
    });
  });

  it('not applied when the inventory does not ask', async () => {
    const calls: string[] = [];
    const without = { ...inventory, networkPolicies: { ...inventory.networkPolicies!, apply: false } };
    const acts = zoneActivities(calls, { ...identity, inventorySnapshot: async () => without });
    await withWorker(env, acts, async (client, taskQueue) => {
      const result: WorkflowResult = await client.workflow.execute('BootstrapCluster', {
        taskQueue,
        workflowId: `bootstrap-netpol-off-${Date.now()}`,
        args: [{}],
      });
      assert.equal(result.outcome, 'completed');
      assert.ok(!calls.includes('applyNetworkPolicies'));
    });
  });

  it('a policy that would cut a consumer off fails the run once, naming it; every zone stays ensured', async () => {
    const calls: string[] = [];
    let attempts = 0;
    const acts = zoneActivities(calls, {
      ...identity,
      applyNetworkPolicies: async () => {
        attempts++;
        throw ApplicationFailure.nonRetryable(
          'the NetworkPolicies would cut 1 consumer(s) off the store: Deployment/dashi-serving/titiler (zone serving)',
          'NetworkPolicyWouldCutOff',
        );
      },
    });
    await withWorker(env, acts, async (client, taskQueue) => {
      const err = await client.workflow
        .execute('BootstrapCluster', {
          taskQueue,
          workflowId: `bootstrap-netpol-refused-${Date.now()}`,
          args: [{}],
        })
        .then(
          () => assert.fail('bootstrap completed over a refused policy'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof WorkflowFailedError);
      assert.match(
        rootCause(err),
        /would cut 1 consumer\(s\) off the store: Deployment\/dashi-serving\/titiler/,
      );
      const types: unknown[] = [];
      for (let e = err as { cause?: unknown } | undefined; e; e = e.cause as typeof e)
        if (e instanceof ApplicationFailure) types.push(e.type);
      assert.ok(types.includes('NetworkPolicyWouldCutOff'), `failure types: ${types.join(', ')}`);
      assert.equal(attempts, 1, 'not retried');
      for (const zone of ZONES) assert.ok(calls.includes(`smokeZone ${zone}`), `zone ${zone} was ensured`);
    });
  });
});
