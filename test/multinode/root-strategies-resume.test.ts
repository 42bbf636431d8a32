// A rolling RotateRoot paused in the middle of the roll on the sandbox's 4-node store, then resumed
// (issue 25 point 3): the second pod's store start is held by the node agent, the run pauses with
// one node on the new root, two on the previous one and one down; resumed, the roll goes on and
// every node ends on the new root (each asked directly), while the consumer of a zone, reading
// through the load balancer, loses no request. Runs in the RustFS rounds' multi-node round (one
// file per path, so each fits the runner's 600 s per file); on a store that never rolls (MinIO,
// alpha.85) the test asserts the refusal instead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
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
      // As on-call would: resume once the released node serves the new root and every node sees a
      // healthy cluster from its own side, which is what the run checks in its window. A node held
      // for minutes takes a while to be seen by its peers again (rc.3's answered 503 on
      // /minio/health/cluster for minutes on a machine running three stacks); a resume that still
      // came too soon pauses the run again, and on-call waits and resumes again, for as long as
      // the budget lasts.
      const newRoot = fingerprint(after.secretKey);
      const deadline = Date.now() + RESUME_BUDGET_MS;
      const pauses: string[] = [];
      let result: WorkflowResult | undefined;
      while (!result) {
        await eventually(
          'rustfs-2 serving on the new root and the cluster healthy from every node',
          async () => {
            if ((await store.nodeRoots([after]))[2] !== newRoot)
              throw new Error('rustfs-2 not on the new root');
            const unhealthy = await store.unhealthyNodes();
            if (unhealthy.length) throw new Error(`cluster not healthy from ${unhealthy.join(', ')}`);
            return true;
          },
          Math.max(1_000, deadline - Date.now()),
        );
        await handle.executeUpdate(resumeUpdate, { args: [{ by: 'oncall', reason: 'node released' }] });
        const stop = await store.nextStop(handle);
        if (stop.result) result = stop.result;
        else {
          pauses.push(stop.pauseReason!);
          assert.ok(
            Date.now() < deadline,
            `still paused after ${pauses.length} resume(s): ${pauses.join(' | ')}`,
          );
        }
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

/** From the held node's release to the run's end, resumes included (the file has 900 s in its round). */
const RESUME_BUDGET_MS = 420_000;
