// A rolling RotateRoot paused in the middle of the roll on the sandbox's 4-node store, then rolled
// back (issue 25 point 3): the second pod's store start is held by the node agent, the run pauses
// with one node on the new root, two on the previous one and one down; rolled back, the pods
// restarted so far come back on the previous root one at a time and every node ends on it (each
// asked directly), while the consumer of a zone, reading through the load balancer, loses no
// request. Runs in the RustFS rounds' multi-node round (one file per path, so each fits the
// runner's 600 s per file); on a store that never rolls (MinIO, alpha.85) the test asserts the
// refusal instead.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type WorkflowFailedError } from '@temporalio/client';
import { fingerprint } from '../../src/fingerprint';
import { PLATFORM } from '../../src/sandbox/platform';
import { rollbackUpdate, statusQuery } from '../../src/workflows/definitions';
import { readSecretData } from '../support/kube';
import { pausedRollSuite } from '../support/paused-roll';

describe('a rolling RotateRoot paused in the middle of the roll', () => {
  const { stack, store, rolls, pausedAtSecondPod, refusesRolling } = pausedRollSuite('strategies-rollback');

  test('rolled back: the restarted pods back one at a time, every node on the previous root', async () => {
    if (!rolls()) return refusesRolling();
    const loop = store.consumer();
    try {
      const { handle, before } = await pausedAtSecondPod();
      await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'oncall', reason: 'node stuck' }] });
      const err = (await handle.result().then(
        () => assert.fail('a rolled-back run does not complete'),
        (e: unknown) => e,
      )) as WorkflowFailedError;
      const seen = await loop.stop();
      assert.equal((err.cause as { type?: string }).type, 'RolledBack', String(err.cause?.message));
      const status = await handle.query(statusQuery);
      assert.deepEqual(status.compensationErrors, []);
      assert.deepEqual(await store.root(), before, 'the previous root back in the Secret');
      await assert.rejects(
        readSecretData(stack, PLATFORM.namespace, `${PLATFORM.rootSecret}-pending`),
        'the pending record cleaned up',
      );
      assert.deepEqual(
        await store.nodeRoots([before]),
        store.nodes.map(() => fingerprint(before.secretKey)),
      );
      assert.equal(seen.failures, 0, `failed consumer requests: ${seen.errors.join('; ')}`);
    } finally {
      await loop.stop();
    }
  });
});
