// The sandbox's distributed store (ROTATOR_STORE_NODES=4, which run-tests sets for test/multinode;
// scripts/test-rustfs.ts's multi-node round runs it on every RustFS release): the store
// StatefulSet's four pods, each played by its own store process on loopback, one erasure-coded
// cluster, and the load balancer that plays its Service, sending requests only to Ready nodes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { createKube, loadKubeConfig, rolloutRestart } from '../../src/kube';
import { createS3 } from '../../src/rustfs';
import { PLATFORM } from '../../src/sandbox/platform';
import { type AgentState } from '../../src/sandbox/node-agent';
import { eventually, readSecretData, uniqueName } from '../support/kube';
import { getStack } from '../support/stack';
import { creds, storeAdmin } from '../support/store';

const stack = getStack();
const nodes = stack.store.nodes ?? [];

const agentState = async () => (await (await fetch(`${stack.agent.url}/state`)).json()) as AgentState;

/** The environment a running process was started with (Linux /proc). */
function processEnv(pid: number): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

/** S3 requests with `c` against `endpoint`, one fresh connection each, until stopped. */
function requestLoop(endpoint: string, c: { accessKey: string; secretKey: string }, bucket: string) {
  let stopped = false;
  const seen = { requests: 0, failures: 0, errors: [] as string[] };
  const done = (async () => {
    while (!stopped) {
      const s3 = createS3({ endpoint, credentials: c, maxAttempts: 1 });
      seen.requests += 1;
      try {
        await s3.listObjects(bucket);
      } catch (err) {
        seen.failures += 1;
        if (seen.errors.length < 5) seen.errors.push(`${new Date().toISOString()} ${String(err)}`);
      } finally {
        s3.close();
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return seen;
    },
  };
}

describe('a distributed store in the sandbox', () => {
  test('four pods, four store processes, one cluster: what one node stores, every node serves', async () => {
    assert.equal(
      nodes.length,
      4,
      `the stack runs ${nodes.length || 1} store node(s), not 4 (ROTATOR_STORE_NODES)`,
    );
    const state = await agentState();
    assert.deepEqual(
      state.nodes.map((n) => [n.pod, n.ready]),
      nodes.map((n) => [n.pod, true]),
    );
    const pids = state.nodes.map((n) => n.storePid);
    assert.equal(new Set(pids).size, 4, `one process per pod: ${pids.join(', ')}`);
    assert.notEqual(
      stack.store.endpoint,
      nodes[0]!.endpoint,
      'the inventory points at the load balancer, not at a node',
    );

    const root = creds(await readSecretData(stack, PLATFORM.namespace, PLATFORM.rootSecret));
    const bucket = uniqueName('nodes');
    const first = createS3({ endpoint: nodes[0]!.endpoint, credentials: root, maxAttempts: 1 });
    try {
      await first.createBucket(bucket);
      await first.putObject(bucket, 'written-on-node-0', 'one cluster');
    } finally {
      first.close();
    }
    for (const node of nodes) {
      const s3 = createS3({ endpoint: node.endpoint, credentials: root, maxAttempts: 1 });
      try {
        assert.equal(await s3.getObject(bucket, 'written-on-node-0'), 'one cluster', node.pod);
      } finally {
        s3.close();
      }
    }

    // The admin API reports the cluster's four servers.
    const info = (await storeAdmin(stack, root).serverInfo()).raw as Record<string, unknown>;
    const message = (info.servers ? info : info.info) as { servers?: unknown[] };
    assert.equal(message.servers?.length, 4, JSON.stringify(Object.keys(message)));

    // Every node runs with the node-to-node secret the pod spec pins, from its own Secret.
    if (stack.store.kind === 'rustfs') {
      const rpc = (await readSecretData(stack, PLATFORM.namespace, PLATFORM.rpcSecret.name))[
        PLATFORM.rpcSecret.key
      ];
      assert.ok(rpc);
      for (const n of state.nodes) assert.equal(processEnv(n.storePid!).RUSTFS_RPC_SECRET, rpc, n.pod);
    }
  });

  test('a rolling restart replaces one pod at a time, and requests through the load balancer never fail', async () => {
    const root = creds(await readSecretData(stack, PLATFORM.namespace, PLATFORM.rootSecret));
    const bucket = uniqueName('roll');
    const s3 = createS3({ endpoint: stack.store.endpoint, credentials: root, maxAttempts: 1 });
    try {
      await s3.createBucket(bucket);
    } finally {
      s3.close();
    }
    const before = await agentState();
    const loop = requestLoop(stack.store.endpoint, root, bucket);
    let mostNotReady = 0;
    let balancerDownSamples = 0;
    try {
      const kube = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
      await rolloutRestart(
        kube,
        { kind: 'StatefulSet', namespace: PLATFORM.namespace, name: PLATFORM.statefulSet },
        new Date(),
      );
      await eventually(
        'every pod replaced and Ready',
        async () => {
          const s = await agentState();
          const notReady = s.nodes.filter((n) => !n.ready).length;
          mostNotReady = Math.max(mostNotReady, notReady);
          if (notReady === s.nodes.length) balancerDownSamples += 1;
          return s.nodes.every((n, i) => n.ready && n.podUid !== before.nodes[i]!.podUid);
        },
        240_000,
        100,
      );
    } finally {
      const seen = await loop.stop();
      assert.equal(seen.failures, 0, `failed requests: ${seen.errors.join('; ')}`);
      assert.ok(seen.requests > 20, `only ${seen.requests} requests`);
    }
    assert.equal(mostNotReady, 1, 'one pod at a time was down, never more');
    assert.equal(balancerDownSamples, 0);
    const after = await agentState();
    for (const [i, n] of after.nodes.entries()) {
      assert.notEqual(n.storePid, before.nodes[i]!.storePid, `${n.pod} runs a new process`);
      assert.equal(n.podsStarted, before.nodes[i]!.podsStarted + 1, `${n.pod} replaced once`);
    }
  });
});
