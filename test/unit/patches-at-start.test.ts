// Every run decides its patches in its first workflow task (patch patches-at-start): its
// markers (patches-at-start, then each patch added after it), recorded before any other command, so no patch can be asked in a task other than
// the one its marker is in, whatever activations a replay groups differently. Runs of each
// workflow through their longest paths (undo on cancel, pause and resume, children), each
// replayed from its full history as a query of the closed run does.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { type temporal } from '@temporalio/proto';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { resumeUpdate } from '../../src/workflows/definitions';
import { FAILURE } from '../../src/workflows/names';
import { PATCHES_AT_START, ROOT_STRATEGIES } from '../../src/workflows/patches';
import { replayWorkflowCode } from '../support/build';
import { ending, Fake, untilPhase } from '../support/workflow-mocks';
import { withWorker, workflowTestEnv } from '../support/workflow-env';
import { zoneActivities } from '../support/zone-mocks';

type Event = temporal.api.history.v1.IHistoryEvent;
const PATCH_MARKER = 'core_patch';

let ids = 0;
const id = (what: string) => `${what}-${process.pid}-${++ids}`;

/** The ids of the run's patch markers, and whether the first command of the run is the first of them. */
function patchMarkers(events: Event[]): { ids: string[]; firstCommandIsMarker: boolean } {
  const markers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === PATCH_MARKER);
  const ids = markers.map((e) => {
    const data = e.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data!;
    return (JSON.parse(Buffer.from(data).toString()) as { id: string }).id;
  });
  const firstCompleted = events.findIndex((e) => e.workflowTaskCompletedEventAttributes);
  const firstCommand = events[firstCompleted + 1];
  return { ids, firstCommandIsMarker: firstCommand !== undefined && firstCommand === markers[0] };
}

async function replays(workflowId: string, history: temporal.api.history.v1.IHistory): Promise<void> {
  await Worker.runReplayHistory(replayWorkflowCode(), history, workflowId);
}

describe('patches decided at the start of every run (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const check = async (workflowId: string) => {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const { ids, firstCommandIsMarker } = patchMarkers(history.events ?? []);
    assert.deepEqual(
      ids,
      [PATCHES_AT_START, ROOT_STRATEGIES],
      `${workflowId}: the patch markers of its start`,
    );
    assert.ok(firstCommandIsMarker, `${workflowId}: the marker is the first command of the first task`);
    await replays(workflowId, history);
  };

  it('RotateZone cancelled in its grace wait (local activities, undo, announcements)', async () => {
    const fake = new Fake();
    await withWorker(env, fake.activities(), async (client, taskQueue) => {
      const workflowId = id('zone-grace-cancel');
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId,
        args: [{ zone: 'serving', grace: '1h' }],
      });
      await untilPhase(client, workflowId, 'waiting-grace');
      await handle.cancel();
      const end = await ending(client, workflowId);
      assert.equal(end.execution, 'CANCELLED');
      await check(workflowId);
    });
  });

  it('RotateRoot paused and resumed', async () => {
    // The first restart window runs out (the run pauses); the resumed window sees the store.
    let windows = 0;
    const fake = new Fake().on('waitForStoreWithRoot', async () => {
      if (++windows === 1)
        throw ApplicationFailure.nonRetryable('store not back within 3s', FAILURE.restartWindowExceeded);
      return 'store ready';
    });
    await withWorker(env, fake.activities(), async (client, taskQueue) => {
      const workflowId = id('root-pause-resume');
      await client.workflow.start('RotateRoot', {
        taskQueue,
        workflowId,
        args: [{ approve: true, restartTimeout: '3s', pauseTimeout: '1h' }],
      });
      await untilPhase(client, workflowId, 'paused');
      await client.workflow.getHandle(workflowId).executeUpdate(resumeUpdate, { args: [{ by: 'on-call' }] });
      const end = await ending(client, workflowId);
      assert.equal(end.execution, 'COMPLETED', end.message);
      await check(workflowId);
    });
  });

  it('BootstrapCluster rotating every zone through children', async () => {
    const calls: string[] = [];
    await withWorker(env, zoneActivities(calls), async (client, taskQueue) => {
      const workflowId = id('bootstrap-rotate');
      await client.workflow.execute('BootstrapCluster', { taskQueue, workflowId, args: [{ rotate: true }] });
      await check(workflowId);
      for (const child of ['ingest', 'pipeline', 'serving']) await check(`rotate-zone-${child}`);
    });
  });
});
