// What the multi-node tests (test/multinode) ask of the sandbox's 4-node store: which root each
// node accepts (asked of each node directly, never through the load balancer), a consumer of a
// zone reading through the load balancer, how often the agent restarted each pod, and a
// RotateRoot run of the test's rotator.
import assert from 'node:assert/strict';
import { type WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import { fingerprint } from '../../src/fingerprint';
import { AdminError, createAdminClient, type Credentials } from '../../src/rustfs';
import { PLATFORM } from '../../src/sandbox/platform';
import { type SandboxState } from '../../src/sandbox/state';
import { rollbackUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { startConsumerLoop } from './consumer';
import { readSecretData } from './kube';
import { nodeAgent, type Rotator } from './rotator';
import { creds } from './store';

export function storeNodes(stack: SandboxState) {
  const nodes = stack.store.nodes ?? [];
  const agent = nodeAgent(stack);
  let runs = 0;
  // Consumer loops keep the test process alive until stopped: endOpen stops any a failed test left.
  const loops: Array<{ stop: () => Promise<unknown> }> = [];
  const track = <L extends { stop: () => Promise<unknown> }>(loop: L): L => (loops.push(loop), loop);
  const root = async () => creds(await readSecretData(stack, PLATFORM.namespace, PLATFORM.rootSecret));
  const startRoot = (rotator: Rotator, input: object): Promise<WorkflowHandle> =>
    rotator.client.workflow.start('RotateRoot', {
      taskQueue: rotator.taskQueue,
      workflowId: `rotate-root-nodes-${process.pid}-${++runs}`,
      args: [{ approve: true, ...input }],
    });
  return {
    nodes,
    agent,
    root,
    /**
     * The fingerprint of the root (of `roots`) each node accepts; undefined where the node refuses
     * them all. A node's server info waits on its peers: right after every node restarted, one
     * slow peer (rc.3) can keep every node from answering for a while, so a node that gave no
     * answer (a timeout, a 5xx: a retryable AdminError) is asked again for up to 60 s; a refusal is an answer.
     */
    nodeRoots: (roots: Credentials[]): Promise<(string | undefined)[]> =>
      Promise.all(
        nodes.map(async (n) => {
          const deadline = Date.now() + 60_000;
          for (;;) {
            let unanswered = false;
            for (const c of roots) {
              const admin = createAdminClient({
                endpoint: n.endpoint,
                dialect: stack.store.kind === 'minio' ? 'madmin' : 'rustfs',
                credentials: c,
                timeoutMs: 5_000,
              });
              const answer = await admin.serverInfo().then(
                () => 'accepted' as const,
                // The admin client's own rule for an error the store may come back from.
                (err: unknown) =>
                  err instanceof AdminError && !err.retryable ? ('refused' as const) : ('none' as const),
              );
              if (answer === 'accepted') return fingerprint(c.secretKey);
              if (answer === 'none') unanswered = true;
            }
            if (!unanswered || Date.now() >= deadline) return undefined;
            await sleep(1_000);
          }
        }),
      ),
    /**
     * The nodes that do not see a healthy cluster from their own side: /minio/health/cluster
     * (write and lock quorum as that node sees them; RustFS from beta.9, MinIO) not 200, or no
     * answer within 5 s. A release that does not serve it (403/404) counts as healthy here: the
     * rotator's own check falls back to its server info.
     */
    unhealthyNodes: async (): Promise<string[]> =>
      (
        await Promise.all(
          nodes.map(async (n) => {
            const res = await fetch(`${n.endpoint}/minio/health/cluster`, {
              signal: AbortSignal.timeout(5_000),
            }).catch(() => undefined);
            await res?.arrayBuffer().catch(() => undefined);
            const ok = res && (res.ok || res.status === 403 || res.status === 404);
            return ok ? [] : [`${n.pod} (${res ? res.status : 'no answer'})`];
          }),
        )
      ).flat(),
    /**
     * Where a run stops next: its end (a failed run rejects), or a pause it entered after this was
     * called (a run paused already is read once it left that pause). A test that awaited only the
     * result would wait for the pause timeout.
     */
    nextStop: async (handle: WorkflowHandle): Promise<{ result?: WorkflowResult; pauseReason?: string }> => {
      let left = false;
      for (;;) {
        if ((await handle.describe()).status.name !== 'RUNNING') return { result: await handle.result() };
        const phase = await handle.query(statusQuery);
        if (phase.phase !== 'paused') left = true;
        else if (left) return { pauseReason: phase.pauseReason ?? '(no reason)' };
        await sleep(1_000);
      }
    },
    /** A consumer of zone serving, with its zone key, through the load balancer (the store's Service). */
    consumer: () =>
      track(
        startConsumerLoop(stack, {
          namespace: 'dashi-serving',
          secret: 'dashi-rustfs-serving',
          deployment: 'titiler',
          bucket: 'curated',
          intervalMs: 50,
        }),
      ),
    restarts: async () => (await agent.state()).nodes.map((n) => n.restarts),
    podsStarted: async () => (await agent.state()).nodes.map((n) => n.podsStarted),
    startRoot,
    /**
     * Starts a RotateRoot with `strategy` that the store's topology refuses: asserts the refusal
     * and that the root did not change, and returns the failure for the caller's reason check.
     */
    refusedBeforeAnyChange: async (rotator: Rotator, strategy: string): Promise<WorkflowFailedError> => {
      const before = await root();
      const err = (await (await startRoot(rotator, { strategy })).result().then(
        () => assert.fail(`${strategy} completed on a store whose topology refuses it`),
        (e: unknown) => e,
      )) as WorkflowFailedError;
      assert.equal((err.cause as { type?: string }).type, 'TopologyRefused', String(err.cause?.message));
      assert.deepEqual(await root(), before);
      return err;
    },
    /**
     * Ends every RotateRoot of this file still open (and stops its consumer loops), so a failed test leaves no run behind: a
     * paused one is rolled back (every node back on one root, as on-call would do), whatever is
     * still open after that is terminated. Terminating a paused rolling run would leave the
     * nodes on two roots for the next file.
     */
    endOpen: async (rotator: Rotator) => {
      await Promise.all(loops.map((l) => l.stop()));
      for (let i = 1; i <= runs; i++) {
        const handle = rotator.client.workflow.getHandle(`rotate-root-nodes-${process.pid}-${i}`);
        const status = await handle.query(statusQuery).catch(() => undefined);
        if (status?.phase === 'paused') {
          await agent.reset().catch(() => undefined);
          await handle
            .executeUpdate(rollbackUpdate, { args: [{ by: 'test cleanup', reason: 'the test ended' }] })
            .catch(() => undefined);
          await Promise.race([
            handle.result().catch(() => undefined),
            sleep(300_000, undefined, { ref: false }),
          ]);
        }
        await handle.terminate('test cleanup').catch(() => undefined);
      }
    },
  };
}
