// A rolling RotateRoot paused in the middle of the roll on the sandbox's 4-node store, then rolled
// back (issue 25 point 3): the second pod's store start is held by the node agent, the run pauses
// with one node on the new root, two on the previous one and one down; rolled back, the pods
// restarted so far come back on the previous root one at a time and every node ends on it (each
// asked directly), while the consumer of a zone, reading through the load balancer, loses no
// request. Runs in the RustFS rounds' multi-node round (one file per path, so each fits the
// runner's 600 s per file); on a store that never rolls (MinIO, alpha.85) the test asserts the
// refusal instead.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { fingerprint } from '../../src/fingerprint';
import { PLATFORM } from '../../src/sandbox/platform';
import { rollbackUpdate, statusQuery } from '../../src/workflows/definitions';
import { eventually, readSecretData } from '../support/kube';
import { startRotator, waitPhase, type Rotator } from '../support/rotator';
import { getStack } from '../support/stack';
import { storeAdmin, type creds } from '../support/store';
import { storeNodes } from '../support/store-nodes';

const stack = getStack();
const store = storeNodes(stack);
let rotator: Rotator;
let rolls = false;

type Credentials = ReturnType<typeof creds>;

/**
 * A rolling run paused at its second pod (rustfs-2): the agent holds the first start (rustfs-3)
 * and it is let go at once (releasing clears later holds), then the next start is held — rustfs-2's,
 * which the run asks for only after rustfs-3 settled.
 */
async function pausedAtSecondPod(): Promise<{
  handle: WorkflowHandle;
  before: Credentials;
  after: Credentials;
}> {
  const before = await store.root();
  await store.agent.hold();
  const handle = await store.startRoot(rotator, {
    strategy: 'rolling',
    restartTimeout: '45s',
    pauseTimeout: '30m',
  });
  const first = await store.agent.held(120_000);
  assert.equal(first.pod, 'rustfs-3', 'the roll starts at the highest ordinal');
  await store.agent.release();
  await store.agent.hold();
  await eventually(
    'the start of rustfs-2 held',
    async () => ((await store.agent.state()).held?.pod === 'rustfs-2' ? true : undefined),
    180_000,
  );
  const paused = await waitPhase(handle, 'paused', 120_000);
  assert.match(paused.pauseReason ?? '', /store pod rustfs-2 did not come back with root/);
  const after = await store.root();
  // The middle of the roll: rustfs-3 on the new root, rustfs-0 and -1 on the previous, rustfs-2 down.
  assert.deepEqual(await store.nodeRoots([after, before]), [
    fingerprint(before.secretKey),
    fingerprint(before.secretKey),
    undefined,
    fingerprint(after.secretKey),
  ]);
  return { handle, before, after };
}

/** A store that never rolls (MinIO, alpha.85): `rolling` is refused before anything changes. */
async function refusesRolling(): Promise<void> {
  const before = await store.root();
  const err = (await (await store.startRoot(rotator, { strategy: 'rolling' })).result().then(
    () => assert.fail('rolling completed on a store that cannot roll'),
    (e: unknown) => e,
  )) as WorkflowFailedError;
  assert.equal((err.cause as { type?: string }).type, 'TopologyRefused');
  assert.deepEqual(await store.root(), before);
}

describe('a rolling RotateRoot paused in the middle of the roll', () => {
  before(async () => {
    assert.equal(store.nodes.length, 4, 'needs the 4-node sandbox (ROTATOR_STORE_NODES=4)');
    rotator = await startRotator(stack, { grace: '0s' });
    await rotator.client.workflow.execute('BootstrapCluster', {
      taskQueue: rotator.taskQueue,
      workflowId: 'bootstrap-cluster-strategies-rollback',
      args: [{}],
    });
    const caps = await storeAdmin(stack, await store.root()).detectCapabilities();
    rolls = stack.store.kind === 'rustfs' && caps.iamSurvivesRootChange;
  });
  beforeEach(() => store.agent.reset());
  after(async () => {
    if (rotator) await store.terminateOpen(rotator);
    await store.agent.reset().catch(() => undefined);
    await rotator?.close();
  });

  test('rolled back: the restarted pods back one at a time, every node on the previous root', async () => {
    if (!rolls) return refusesRolling();
    const loop = store.consumer();
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
  });
});
