// Records the replay histories of RotateZone's bounded grace wait (patch grace-bound): a
// run that escalates at maxGrace, and a run continued as new that ends with revokeNow.
// Waits of hours are what these paths are about, so they are recorded in the time-skipping
// test server with the activities of test/unit/workflow-grace.test.ts mocked:
//   npx tsx test/replay/record-grace-histories.ts [TAG]   (TAG: the era, default grace-bound)
// Never re-record an existing file to make a replay failure go away.
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { revokeNowUpdate, statusQuery } from '../../src/workflows/definitions';
import { GRACE_BOUND } from '../../src/workflows/patches';
import { zoneActivities } from '../support/zone-activities';
import { withWorker, workflowTestEnv } from '../support/workflow-env';
import { eraTag, writeHistory } from './history-files';

const STUCK = 'dashi-serving/titiler-old-7d9f (Unknown)';

async function main() {
  const env = await workflowTestEnv();
  const save = async (workflowId: string, runId: string, name: string) => {
    const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const file = writeHistory(name, eraTag(GRACE_BOUND), historyToJSON(history));
    console.log(`recorded ${file} (${history.events?.length} events)`);
  };
  try {
    await withWorker(env, zoneActivities(() => [STUCK]).activities, async (client, taskQueue) => {
      const escalated = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: 'rotate-zone-serving-escalated',
        args: [{ zone: 'serving', grace: '10m', maxGrace: '2h' }],
      });
      await escalated.result();
      await save(escalated.workflowId, escalated.firstExecutionRunId, 'rotate-zone-grace-escalated');

      const long = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: 'rotate-zone-serving-continued',
        args: [{ zone: 'serving', grace: '10m', maxGrace: '7d' }],
      });
      await env.sleep('10 hours');
      const latest = client.workflow.getHandle(long.workflowId);
      await latest.query(statusQuery);
      await latest.executeUpdate(revokeNowUpdate, { args: [{ by: 'recorder' }] });
      await latest.result();
      const { runId } = await latest.describe();
      await save(long.workflowId, runId, 'rotate-zone-grace-continued');
    });
  } finally {
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
