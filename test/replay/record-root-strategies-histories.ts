// Records the replay histories of RotateRoot's strategies (patch root-strategies) on a 4-pod
// store: a rolling rotation that completes, and one paused in the middle of the roll that nobody
// answers, rolled back one pod at a time. Recorded in the time-skipping test server with the
// activities of test/unit/workflow-root-strategies.test.ts mocked (no secret in them):
//   npx tsx test/replay/record-root-strategies-histories.ts [era]
// Never re-record an existing file to make a replay failure go away (writeHistory refuses).
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { ROOT_STRATEGIES } from '../../src/workflows/patches';
import { withWorker, workflowTestEnv } from '../support/workflow-env';
import { fourPodStore } from '../support/workflow-mocks';
import { eraTag, writeHistory } from './history-files';

async function main() {
  const env = await workflowTestEnv();
  const record = async (name: string, stuck: string | undefined, input: object) => {
    await withWorker(env, fourPodStore({ stuck }).activities(), async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId: name,
        args: [input],
      });
      await handle.result().catch(() => undefined);
      const history = await handle.fetchHistory();
      const file = writeHistory(name, eraTag(ROOT_STRATEGIES), historyToJSON(history));
      console.log(`recorded ${file} (${history.events?.length} events)`);
    });
  };
  try {
    await record('rotate-root-rolling', undefined, { approve: true });
    await record('rotate-root-rolling-auto-rollback', 'rustfs-2', {
      approve: true,
      restartTimeout: '3s',
      pauseTimeout: '30m',
    });
    await record('rotate-root-all-at-once', undefined, { approve: true, strategy: 'all-at-once' });
  } finally {
    await env.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
