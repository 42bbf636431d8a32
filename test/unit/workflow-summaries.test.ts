// The summaries a run records with its commands (src/workflows/summaries.ts), read back from
// the history the time-skipping server keeps: the timeline names each step by its zone and
// each wait by what it waits for, from the run's own records.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { timelineFromHistory } from '../../src/timeline/timeline';
import { WAIT } from '../../src/workflows/summaries';
import { type WorkflowResult } from '../../src/workflows/types';
import { withWorker, workflowTestEnv } from '../support/workflow-env';
import { zoneActivities } from '../support/zone-activities';

describe('summaries recorded by a run (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('RotateZone: every step carries its zone, the grace period its wait', async () => {
    const zone = zoneActivities(() => []);
    await withWorker(env, zone.activities, async (client, taskQueue) => {
      const workflowId = `summaries-${Date.now()}`;
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId,
        args: [{ zone: 'serving', grace: '10m' }],
      });
      const result: WorkflowResult = await handle.result();
      assert.equal(result.zones[0]!.zone, 'serving');
      const t = timelineFromHistory(await handle.fetchHistory(), { workflowId });
      const steps = t.entries.filter((e) => e.kind === 'activity');
      assert.ok(steps.length >= zone.calls.length - 1, `${steps.length} steps for ${zone.calls.join(', ')}`);
      for (const s of steps) assert.ok(s.summary, `${s.name} carries a summary`);
      const ensure = steps.find((s) => s.summary?.startsWith('ensureZoneIdentity'));
      assert.equal(ensure?.summary, 'ensureZoneIdentity: zone serving (pending)');
      const grace = t.entries.find((e) => e.summary === WAIT.grace);
      assert.equal(grace?.kind, 'grace');
      assert.equal(grace?.state, 'fired');
    });
  });
});
