// The sandbox node agent's control API against a fake apiserver and a fake store process:
// a held store start waits for POST /release or for its pod to be replaced, a delay is cut
// short by a replaced pod, and /reset lets a held start go.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { NodeAgent, type AgentState } from '../../src/sandbox/node-agent';
import { freePort } from '../../src/sandbox/ports';
import { type StoreProcess } from '../../src/sandbox/store-process';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** One StatefulSet pod and the root Secret, as readNamespacedPod/Secret return them. */
class FakeCluster {
  pod: V1Pod | null = null;
  private seq = 0;
  root = { 'access-key': b64('root'), 'secret-key': b64('root-secret-1') };

  /** What a rollout restart does to the single pod: a new one under the same name. */
  replacePod(): string {
    const uid = `uid-${++this.seq}`;
    this.pod = { metadata: { name: 'rustfs-0', uid }, spec: { nodeName: 'kwok-node', containers: [] } };
    return uid;
  }

  readonly core = {
    readNamespacedPod: async () => {
      if (!this.pod) throw Object.assign(new Error('not found'), { code: 404 });
      return structuredClone(this.pod);
    },
    readNamespacedSecret: async () => ({ data: { ...this.root } }),
    replaceNamespacedPodStatus: async ({ body }: { body: V1Pod }) => {
      if (this.pod && body.metadata?.uid === this.pod.metadata?.uid) this.pod.status = body.status;
      return body;
    },
  } as unknown as CoreV1Api;
}

class FakeStore {
  running = false;
  pid: number | undefined;
  starts: string[] = [];
  /** Whether the process answers its readiness check; false plays a node still loading IAM. */
  answersReady = true;
  async start(root: { accessKey: string; secretKey: string }): Promise<void> {
    this.running = true;
    this.pid = 1000 + this.starts.length;
    this.starts.push(root.secretKey);
  }
  async ready(): Promise<boolean> {
    return this.running && this.answersReady;
  }
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.ready())) {
      if (Date.now() > deadline) throw new Error(`object store: not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  async stop(): Promise<void> {
    this.running = false;
    this.pid = undefined;
  }
}

let cluster: FakeCluster;
let store: FakeStore;
let agent: NodeAgent;
let url: string;

const post = async (route: string, body?: object) => {
  const res = await fetch(`${url}${route}`, { method: 'POST', body: body && JSON.stringify(body) });
  return {
    status: res.status,
    body: (await res.json()) as AgentState & { released?: boolean; error?: string },
  };
};
const state = async () => (await (await fetch(`${url}/state`)).json()) as AgentState;

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The store runs for the pod `uid` (no start held). */
const runningFor = async (uid: string) =>
  until(`the store to run for ${uid}`, async () => {
    const s = await state();
    return s.storeRunning && s.held === null && s.podUid === uid && store.starts.length > 0;
  });

describe('sandbox node agent', () => {
  beforeEach(async () => {
    cluster = new FakeCluster();
    store = new FakeStore();
    agent = new NodeAgent({
      core: cluster.core,
      stores: [store as unknown as StoreProcess],
      namespace: 'dashi-platform',
      statefulSet: 'rustfs',
      rootSecret: 'rustfs-root',
      log: () => undefined,
      startReadyMs: 200,
    });
    url = await agent.start(await freePort());
    await runningFor(cluster.replacePod());
  });
  afterEach(() => agent.stop());

  test('hold: the start waits for POST /release, then starts with the root the Secret holds then', async () => {
    assert.equal((await post('/behaviour', { hold: true })).body.behaviour.holdCount, 1);
    cluster.root['secret-key'] = b64('root-secret-2');
    const uid = cluster.replacePod();
    const held = await until('the start to be held', async () => (await state()).held ?? undefined);
    assert.equal(held.podUid, uid);
    const s = await state();
    assert.equal(s.storeRunning, false, 'the store is down while its start is held');
    assert.equal(s.heldStarts, 1);
    assert.equal(s.behaviour.holdCount, 0, 'one start held, no more');
    const released = await post('/release');
    assert.equal(released.status, 200);
    assert.equal(released.body.released, true);
    await runningFor(uid);
    assert.deepEqual(store.starts, ['root-secret-1', 'root-secret-2']);
    assert.equal((await post('/release')).body.released, false, 'nothing held any more');
  });

  test('hold: a replaced pod ends the hold; the new pod starts without one', async () => {
    await post('/behaviour', { hold: true });
    const first = cluster.replacePod();
    await until('the start to be held', async () => (await state()).held?.podUid === first);
    const second = cluster.replacePod();
    await runningFor(second);
    assert.equal((await state()).heldStarts, 1);
    assert.equal(store.starts.length, 2, 'the held pod never got a store');
  });

  test('/release before the pod is replaced: no start is held', async () => {
    await post('/behaviour', { hold: 2 });
    assert.equal((await post('/release')).body.behaviour.holdCount, 0);
    const uid = cluster.replacePod();
    await runningFor(uid);
    assert.equal((await state()).heldStarts, 0);
  });

  test('/reset lets a held start go', async () => {
    await post('/behaviour', { hold: true });
    const uid = cluster.replacePod();
    await until('the start to be held', async () => (await state()).held);
    const reset = await post('/reset');
    assert.equal(reset.body.behaviour.holdCount, 0);
    await runningFor(uid);
  });

  test('delayMs is cut short when the pod is replaced', async () => {
    await post('/behaviour', { delayMs: 60_000, delayCount: 1 });
    cluster.replacePod();
    await until('the delay to begin', async () => (await state()).behaviour.delayCount === 0);
    const started = Date.now();
    const second = cluster.replacePod();
    await runningFor(second);
    assert.ok(Date.now() - started < 5000, 'not the full delay');
  });

  test('a store not ready in time is left running, not restarted, and its pod turns Ready once it is', async () => {
    store.answersReady = false;
    const uid = cluster.replacePod();
    await until('the start to give up waiting', async () => (await state()).lastError?.includes('not ready'));
    // Several ticks later: still the one process of this pod's start, its pod not Ready.
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(store.starts.length, 2);
    assert.equal(store.running, true);
    assert.equal((await state()).storeRunning, true);
    const ready = () =>
      cluster.pod?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    assert.equal(ready(), false);
    store.answersReady = true;
    await until('the pod Ready', async () => ready());
    assert.equal(store.starts.length, 2);
    assert.equal((await state()).podUid, uid);
  });

  test('a store that exits before it is ready is started again', async () => {
    store.answersReady = false;
    cluster.replacePod();
    await until('the start to give up waiting', async () => (await state()).lastError?.includes('not ready'));
    store.answersReady = true;
    store.running = false;
    await until('a new start', async () => store.starts.length === 3 && store.running);
    // Started three times, for two pods: the process started again is the same pod.
    const [node] = (await state()).nodes;
    assert.equal(node!.restarts, 3);
    assert.equal(node!.podsStarted, 2);
  });

  test('a bad hold is refused', async () => {
    const res = await post('/behaviour', { hold: 'yes' });
    assert.equal(res.status, 400);
    assert.match(res.body.error!, /hold must be true, false or a non-negative integer/);
  });
});
