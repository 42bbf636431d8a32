// What the two "paused in the middle of a roll" files share (test/multinode/root-strategies-
// resume and -rollback, one file per path so each fits the runner's 600 s per file): a rotator
// on a bootstrapped 4-node store, whether this store rolls at all, a rolling run paused at its
// second pod, and the refusal asserted instead on a store that never rolls.
import assert from 'node:assert/strict';
import { after, before, beforeEach } from 'node:test';
import { type WorkflowHandle } from '@temporalio/client';
import { fingerprint } from '../../src/fingerprint';
import { parseDuration } from '../../src/inventory/duration';
import { eventually } from './kube';
import { startRotator, waitPhase, type Rotator } from './rotator';
import { getStack } from './stack';
import { storeAdmin, type creds } from './store';
import { storeNodes } from './store-nodes';

type Credentials = ReturnType<typeof creds>;

/** The restart window per pod of the paused-roll runs. */
const POD_WINDOW = '3m';
const POD_WINDOW_MS = parseDuration(POD_WINDOW)!;

export interface PausedRoll {
  handle: WorkflowHandle;
  /** The root before the run, and the one it rolls onto. */
  before: Credentials;
  after: Credentials;
}

/** Registers the file's hooks; the returned accessors are valid inside its tests. */
export function pausedRollSuite(name: string) {
  const stack = getStack();
  const store = storeNodes(stack);
  let rotator: Rotator;
  let rolls = false;

  before(async () => {
    assert.equal(store.nodes.length, 4, 'needs the 4-node sandbox (ROTATOR_STORE_NODES=4)');
    rotator = await startRotator(stack, { grace: '0s' });
    await rotator.client.workflow.execute('BootstrapCluster', {
      taskQueue: rotator.taskQueue,
      workflowId: `bootstrap-cluster-${name}`,
      args: [{}],
    });
    const caps = await storeAdmin(stack, await store.root()).detectCapabilities();
    rolls = stack.store.kind === 'rustfs' && caps.iamSurvivesRootChange;
  });
  beforeEach(() => store.agent.reset());
  after(async () => {
    if (rotator) await store.endOpen(rotator);
    await store.agent.reset().catch(() => undefined);
    await rotator?.close();
  });

  /**
   * A rolling run paused at its second pod (rustfs-2): the agent holds the first start (rustfs-3)
   * and it is let go at once (releasing clears later holds), then the next start is held —
   * rustfs-2's, which the run asks for only after rustfs-3 settled.
   */
  async function pausedAtSecondPod(): Promise<PausedRoll> {
    const before = await store.root();
    await store.agent.hold();
    const handle = await store.startRoot(rotator, {
      strategy: 'rolling',
      // Each pod's window must hold its start and the cluster settling (15 s) as every node sees it:
      // beta.7's node took longer than 45 s after its release on a loaded machine (rc.3's restarted
      // rustfs-3 took minutes while the data scanner ran, which the sandbox now turns off:
      // src/sandbox/store-process.ts). The held pod pauses the run once its window is over.
      restartTimeout: POD_WINDOW,
      pauseTimeout: '30m',
    });
    const first = await store.agent.held(120_000);
    assert.equal(first.pod, 'rustfs-3', 'the roll starts at the highest ordinal');
    await store.agent.release();
    await store.agent.hold();
    await eventually(
      'the start of rustfs-2 held',
      async () => ((await store.agent.state()).held?.pod === 'rustfs-2' ? true : undefined),
      POD_WINDOW_MS + 60_000,
    );
    const paused = await waitPhase(handle, 'paused', POD_WINDOW_MS + 60_000);
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
    await store.refusedBeforeAnyChange(rotator, 'rolling');
  }

  return { stack, store, rolls: () => rolls, pausedAtSecondPod, refusesRolling };
}
