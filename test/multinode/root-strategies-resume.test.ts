// A rolling RotateRoot paused in the middle of the roll on the sandbox's 4-node store, then resumed
// (issue 25 point 3): the second pod's store start is held by the node agent, the run pauses with
// one node on the new root, two on the previous one and one down; resumed, the roll goes on and
// every node ends on the new root (each asked directly), while the consumer of a zone, reading
// through the load balancer, loses no request. Runs in the RustFS rounds' multi-node round (one
// file per path, so each fits the runner's 600 s per file); on a store that never rolls (MinIO,
// alpha.85) the test asserts the refusal instead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type WorkflowHandle } from '@temporalio/client';
import { fingerprint } from '../../src/fingerprint';
import { resumeUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { eventually } from '../support/kube';
import { pausedRollSuite } from '../support/paused-roll';

describe('a rolling RotateRoot paused in the middle of the roll', () => {
  const { store, rolls, pausedAtSecondPod, refusesRolling } = pausedRollSuite('strategies-resume');

  test('resumed: the roll goes on, every node on the new root, no failed consumer request', async () => {
    if (!rolls()) return refusesRolling();
    const loop = store.consumer();
    try {
      const { handle, before, after } = await pausedAtSecondPod();
      await store.agent.release();
      // As on-call would: resume once the node is back on the new root (a node held for minutes
      // takes a while to start and to be seen by its peers, more so on a loaded machine).
      const newRoot = fingerprint(after.secretKey);
      await eventually(
        'rustfs-2 serving on the new root',
        async () => ((await store.nodeRoots([after]))[2] === newRoot ? true : undefined),
        300_000,
      );
      // Each resume waits for the same pod another window; a pod seen healthy too late pauses the
      // run again, and on-call resumes again. Three windows are the limit.
      const pauses: string[] = [];
      let result: WorkflowResult | undefined;
      while (!result) {
        assert.ok(pauses.length < 3, `paused again after 3 resumes: ${pauses.join(' | ')}`);
        await handle.executeUpdate(resumeUpdate, { args: [{ by: 'oncall', reason: 'node released' }] });
        const stop = await nextStop(handle);
        if (stop.result) result = stop.result;
        else pauses.push(stop.pauseReason!);
      }
      if (pauses.length)
        console.log(`resumed ${pauses.length + 1} times; paused again: ${pauses.join(' | ')}`);
      const seen = await loop.stop();
      assert.equal(result.outcome, 'completed');
      const now = await store.root();
      assert.notEqual(fingerprint(now.secretKey), fingerprint(before.secretKey));
      assert.deepEqual(
        await store.nodeRoots([now, before]),
        store.nodes.map(() => fingerprint(now.secretKey)),
      );
      const status = await handle.query(statusQuery);
      assert.ok(status.steps.some((s) => s.name.startsWith('resumed by oncall')));
      // One node down for the whole pause: the other three served every request.
      assert.equal(seen.failures, 0, `failed consumer requests: ${seen.errors.join('; ')}`);
    } finally {
      await loop.stop();
    }
  });
});

/** Where a resumed run stops next: its end, or another pause (the phase is read once it left the last). */
async function nextStop(handle: WorkflowHandle): Promise<{ result?: WorkflowResult; pauseReason?: string }> {
  let left = false;
  for (;;) {
    if ((await handle.describe()).status.name !== 'RUNNING') return { result: await handle.result() };
    const phase = await handle.query(statusQuery);
    if (phase.phase !== 'paused') left = true;
    else if (left) return { pauseReason: phase.pauseReason ?? '(no reason)' };
    await sleep(1_000);
  }
}
