// A rolling RotateRoot paused in the middle of the roll on the sandbox's 4-node store, then resumed
// (issue 25 point 3): the second pod's store start is held by the node agent, the run pauses with
// one node on the new root, two on the previous one and one down; resumed, the roll goes on and
// every node ends on the new root (each asked directly), while the consumer of a zone, reading
// through the load balancer, loses no request. Runs in the RustFS rounds' multi-node round (one
// file per path, so each fits the runner's 600 s per file); on a store that never rolls (MinIO,
// alpha.85) the test asserts the refusal instead.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { fingerprint } from '../../src/fingerprint';
import { resumeUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { eventually } from '../support/kube';
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
      workflowId: 'bootstrap-cluster-strategies-resume',
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

  test('resumed: the roll goes on, every node on the new root, no failed consumer request', async () => {
    if (!rolls) return refusesRolling();
    const loop = store.consumer();
    const { handle, before } = await pausedAtSecondPod();
    await store.agent.release();
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'oncall', reason: 'node released' }] });
    const result: WorkflowResult = await handle.result();
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
