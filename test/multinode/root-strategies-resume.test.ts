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
import { waitPhase } from '../support/rotator';

describe('a rolling RotateRoot paused in the middle of the roll', () => {
  const { store, rolls, pausedAtSecondPod, refusesRolling } = pausedRollSuite('strategies-resume');

  test('resumed: the roll goes on, every node on the new root, no failed consumer request', async () => {
    if (!rolls()) return refusesRolling();
    const loop = store.consumer();
    const { handle, before } = await pausedAtSecondPod();
    await store.agent.release();
    // On-call resumes until the run goes on: each resume waits for the same pod another window,
    // and a node that was down for minutes may take more than one (beta.7: its peers mark it
    // online again only after their reconnect backoff). Three windows are the limit.
    const pauses: string[] = [];
    let result: WorkflowResult | undefined;
    while (!result) {
      assert.ok(pauses.length < 3, `paused again after 3 resumes: ${pauses.join(' | ')}`);
      await handle.executeUpdate(resumeUpdate, { args: [{ by: 'oncall', reason: 'node released' }] });
      // The run leaves the pause in the task after the update: not the same pause seen twice.
      await eventually('the run out of its pause', async () =>
        (await handle.query(statusQuery)).phase !== 'paused' ? true : undefined,
      );
      const next = await Promise.race([
        handle.result().then((r: WorkflowResult) => ({ r })),
        waitPhase(handle, 'paused', 600_000).then((st) => ({ st })),
      ]);
      if ('r' in next) result = next.r;
      else pauses.push(next.st.pauseReason ?? '(no reason)');
    }
    if (pauses.length) console.log(`resumed ${pauses.length + 1} times; paused again: ${pauses.join(' | ')}`);
    const seen = await loop.stop();
    assert.equal(result.outcome, 'completed');
    const after = await store.root();
    assert.notEqual(fingerprint(after.secretKey), fingerprint(before.secretKey));
    assert.deepEqual(
      await store.nodeRoots([after, before]),
      store.nodes.map(() => fingerprint(after.secretKey)),
    );
    const status = await handle.query(statusQuery);
    assert.ok(status.steps.some((s) => s.name.startsWith('resumed by oncall')));
    // One node down for the whole pause: the other three served every request.
    assert.equal(seen.failures, 0, `failed consumer requests: ${seen.errors.join('; ')}`);
  });
});
