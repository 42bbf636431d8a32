// RotateRoot's topology preflight on the sandbox's 4-node store (issue 25 point 2): what it reads
// (replicas, the pinned node-to-node secret, the erasure layout the release reports) and states
// in the plan with the strategy it derives, and `rolling` asked for on a workload whose pods do
// not pin RUSTFS_RPC_SECRET refused before anything changes. Runs in the RustFS rounds'
// multi-node round (scripts/test-rustfs.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type WorkflowFailedError } from '@temporalio/client';
import { PLATFORM } from '../../src/sandbox/platform';
import { type AgentState } from '../../src/sandbox/node-agent';
import { type WorkflowResult } from '../../src/workflows/types';
import { adminKube, eventually, readSecretData } from '../support/kube';
import { startRotator, type Rotator } from '../support/rotator';
import { getStack } from '../support/stack';
import { creds, storeAdmin } from '../support/store';

const stack = getStack();
const UNPINNED = 'rustfs-unpinned';
let rotator: Rotator;

const agentState = async () => (await (await fetch(`${stack.agent.url}/state`)).json()) as AgentState;
const secretNames = async () =>
  (await adminKube(stack).core.listNamespacedSecret({ namespace: PLATFORM.namespace })).items
    .map((s) => s.metadata!.name!)
    .sort();

describe('RotateRoot preflight on a 4-node store', () => {
  before(async () => {
    assert.equal(stack.store.nodes?.length, 4, 'needs the 4-node sandbox (ROTATOR_STORE_NODES=4)');
    rotator = await startRotator(stack);
  });
  after(async () => {
    await rotator?.close();
    await adminKube(stack)
      .apps.deleteNamespacedStatefulSet({ name: UNPINNED, namespace: PLATFORM.namespace })
      .catch(() => undefined);
  });

  test('the plan states the topology, the strategy and its downtime', async () => {
    const result: WorkflowResult = await rotator.client.workflow.execute('RotateRoot', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-root-topology-plan',
      args: [{ dryRun: true }],
    });
    const plan = result.plan!;
    if (stack.store.kind === 'minio') {
      // MinIO's nodes have no RPC secret and must agree on the root: never a rolling restart.
      assert.ok(plan.notes.includes('strategy all-at-once: 4 store pods'), plan.notes.join('\n'));
      assert.match(plan.expectedDowntime, /^full store downtime while all 4 pods/);
      return;
    }
    assert.ok(
      plan.notes.includes(
        `node-to-node secret pinned apart from the root: key "${PLATFORM.rpcSecret.key}" of Secret ${PLATFORM.rpcSecret.name}`,
      ),
      plan.notes.join('\n'),
    );
    assert.ok(
      plan.notes.includes(
        'erasure: 4 servers, 1 set(s) of 4 drives, parity 2, 0 drive(s) down; 1 node(s) may be down at once',
      ),
      plan.notes.join('\n'),
    );
    const iamKept = !plan.notes.some((n) => n.includes('loses IAM on root change'));
    if (iamKept) {
      assert.ok(!plan.notes.some((n) => n.startsWith('REFUSED')), plan.notes.join('\n'));
      // Every condition of a rolling restart holds (the sandbox names each pod's endpoint).
      assert.ok(plan.notes.includes('strategy rolling: 4 store pods'), plan.notes.join('\n'));
      assert.match(
        plan.expectedDowntime,
        /^none for consumers through the Service: the 4 pods of StatefulSet\/dashi-platform\/rustfs restart one at a time \(1 may be down\), each checked — .* for 15 s — before the next/,
      );
    } else {
      // RustFS alpha.85 seals IAM with the root: no rolling restart can change it, and after an
      // all-at-once restart the re-created zones would not reach every node. Refused.
      assert.ok(plan.notes.includes('strategy all-at-once: 4 store pods'), plan.notes.join('\n'));
      assert.ok(
        plan.notes.some((n) =>
          /^REFUSED: this store seals IAM with the root secret and loses it on a root change/.test(n),
        ),
        plan.notes.join('\n'),
      );
    }
  });

  test('pods without a pinned RUSTFS_RPC_SECRET: refused before anything changes, with the reason and the fix', async () => {
    const { apps } = adminKube(stack);
    const store = await apps.readNamespacedStatefulSet({
      name: PLATFORM.statefulSet,
      namespace: PLATFORM.namespace,
    });
    // The same store workload without the RPC secret, its pods played by kwok (not the agent):
    // the inventory names it, the admin API still answers for the real 4-node cluster.
    const container = store.spec!.template.spec!.containers[0]!;
    await apps.createNamespacedStatefulSet({
      namespace: PLATFORM.namespace,
      body: {
        metadata: { name: UNPINNED, namespace: PLATFORM.namespace },
        spec: {
          replicas: 4,
          serviceName: UNPINNED,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: { app: UNPINNED } },
          template: {
            metadata: { labels: { app: UNPINNED } },
            spec: {
              containers: [
                { ...container, env: container.env!.filter((e) => e.name !== 'RUSTFS_RPC_SECRET') },
              ],
            },
          },
        },
      },
    });
    await eventually('the unpinned StatefulSet ready', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: UNPINNED, namespace: PLATFORM.namespace });
      return s.status?.readyReplicas === 4;
    });
    const unpinned = await startRotator(stack, { storeWorkload: UNPINNED });
    const rootBefore = await readSecretData(stack, PLATFORM.namespace, PLATFORM.rootSecret);
    const secretsBefore = await secretNames();
    const agentBefore = await agentState();
    const revisionBefore = (
      await apps.readNamespacedStatefulSet({ name: UNPINNED, namespace: PLATFORM.namespace })
    ).status?.updateRevision;
    try {
      const err = (await unpinned.client.workflow
        .execute('RotateRoot', {
          taskQueue: unpinned.taskQueue,
          workflowId: 'rotate-root-unpinned',
          args: [{ approve: true, strategy: 'rolling' }],
        })
        .then(
          () => assert.fail('RotateRoot completed on pods without a pinned RPC secret'),
          (e: unknown) => e,
        )) as WorkflowFailedError;
      const cause = err.cause as { type?: string; message?: string };
      assert.equal(cause.type, 'TopologyRefused', String(cause.message));
      // The first reason that applies: MinIO never rolls; alpha.85 seals IAM with the root.
      const { iamSurvivesRootChange } = await storeAdmin(stack, creds(rootBefore)).detectCapabilities();
      assert.match(
        cause.message!,
        stack.store.kind === 'minio'
          ? /^RotateRoot: refused before anything changed: MinIO's nodes must agree on the root/
          : !iamSurvivesRootChange
            ? /^RotateRoot: refused before anything changed: this store seals IAM with the root secret/
            : /^RotateRoot: refused before anything changed: RUSTFS_RPC_SECRET is not set: the nodes derive their node-to-node secret from the root credentials; .*"No valid auth token".*\. Fix: pin RUSTFS_RPC_SECRET in the store's pod spec/,
      );
    } finally {
      await unpinned.close();
    }
    // Nothing changed: the root, the Secrets (no pending one), the store's processes, the workload.
    assert.deepEqual(await readSecretData(stack, PLATFORM.namespace, PLATFORM.rootSecret), rootBefore);
    assert.deepEqual(await secretNames(), secretsBefore);
    const agentAfter = await agentState();
    assert.deepEqual(
      agentAfter.nodes.map((n) => [n.podUid, n.storePid]),
      agentBefore.nodes.map((n) => [n.podUid, n.storePid]),
    );
    assert.equal(
      (await apps.readNamespacedStatefulSet({ name: UNPINNED, namespace: PLATFORM.namespace })).status
        ?.updateRevision,
      revisionBefore,
    );
  });
});
