import http from 'node:http';
import { type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { PodEnvError, resolveContainerEnv } from './pod-env';
import { type StoreProcess } from './store-process';

/**
 * What tests may ask of the agent, through POST /behaviour:
 * - hold: the next store start (true, or that many next starts) waits until POST /release,
 *   or until the pod it is for is gone or replaced (a rollback's restart): a test holds the
 *   store down for exactly as long as it needs, then lets it start (GET /state's `held`
 *   says which pod waits);
 * - delayMs: wait this long before starting the store on the next restarts
 *   (delayCount of them; all of them when delayCount is absent) — also cut short when the
 *   pod is gone or replaced;
 * - failCount: that many next restarts fail (the store is not started, the pod never
 *   becomes Ready), as a crash-looping container would.
 * POST /release ends the held start and clears holds not begun yet; POST /reset also
 * restores every default.
 */
export interface AgentBehaviour {
  delayMs: number;
  delayCount: number | null;
  failCount: number;
  /** Store starts still to hold (POST /behaviour {"hold": true} sets 1). */
  holdCount: number;
}

/** A store start waiting for POST /release. */
export interface HeldStart {
  podUid: string;
  /** The StatefulSet pod whose store start waits (rustfs-0, rustfs-1, …). */
  pod: string;
  since: string;
}

/** One store pod and the process that plays it. */
export interface AgentNodeState {
  pod: string;
  podUid: string | null;
  /** http://127.0.0.1:<port> of this node's process. */
  endpoint: string;
  storeRunning: boolean;
  storePid: number | null;
  /** The agent reports the pod Ready (its process started and answered its readiness check). */
  ready: boolean;
  /** Times this pod's store was started (or its start attempted). */
  restarts: number;
  /**
   * Pods this node's store was started for: a replaced pod counts once, however often its
   * process was started again after it exited (a kubelet's container restarts).
   */
  podsStarted: number;
}

export interface AgentState {
  /** The first pod's (rustfs-0) uid, process and pid; every pod is in `nodes`. */
  podUid: string | null;
  storeRunning: boolean;
  storePid: number | null;
  restarts: number;
  failedRestarts: number;
  lastStartedAt: string | null;
  lastError: string | null;
  /** The store start being held now, if any (the first, when several are). */
  held: HeldStart | null;
  /** Store starts held so far (released or ended by their pod going away). */
  heldStarts: number;
  behaviour: AgentBehaviour;
  nodes: AgentNodeState[];
}

/**
 * The store's Service (load-balancer.ts): a node takes connections only while its pod is
 * Ready, and is drained before its process stops.
 */
export interface StoreService {
  setReady(port: number, ready: boolean): void;
  drain(port: number): Promise<void>;
}

export interface NodeAgentOptions {
  core: CoreV1Api;
  /** One process per StatefulSet pod, in ordinal order: stores[i] plays `<statefulSet>-<i>`. */
  stores: StoreProcess[];
  namespace: string;
  statefulSet: string;
  rootSecret: string;
  service?: StoreService;
  log: (msg: string) => void;
  /** How long a start waits for readiness before leaving it to the ticks (START_READY_MS). */
  startReadyMs?: number;
}

const defaultBehaviour = (): AgentBehaviour => ({
  delayMs: 0,
  delayCount: null,
  failCount: 0,
  holdCount: 0,
});

/** How often a held or delayed start checks that its pod is still there. */
const POD_CHECK_MS = 250;

/**
 * How long a start waits for the store to be ready before leaving it to the ticks. A RustFS node
 * that fails its first IAM load retries at 5, 10, 20, then every 30 s (beta.7
 * rustfs/src/startup_iam.rs): one restarted in a cluster whose peers still back off from it is
 * not ready for over a minute, and restarting it then (as this agent once did) started it over.
 */
const START_READY_MS = 60_000;

/** What the agent knows of one pod and its process. */
class Slot {
  podUid: string | null = null;
  /** The store was started for the current pod and answered its readiness check. */
  storeStarted = false;
  /**
   * The store was started for the current pod, runs, and has not answered its readiness check
   * within START_READY_MS: it is left running and checked on every tick, as a readiness probe
   * would, never restarted for it.
   */
  notReadySince: number | null = null;
  busy = false;
  restarts = 0;
  podsStarted = 0;
  private lastStartedPodUid: string | null = null;
  /** Ends this pod's held start (POST /release, /reset, stop). */
  releaseHeld: (() => void) | undefined;
  held: HeldStart | null = null;

  constructor(
    readonly pod: string,
    readonly store: StoreProcess,
  ) {}

  get port(): number {
    return this.store.port;
  }

  /** Counts a start: a restart always, a pod started for only when it is another pod. */
  countStart(podUid: string): void {
    this.restarts += 1;
    if (podUid !== this.lastStartedPodUid) this.podsStarted += 1;
    this.lastStartedPodUid = podUid;
  }
}

/**
 * Plays the kubelet for the object store: when a pod of the store's StatefulSet is replaced
 * (a rollout restart replaces them one at a time; a deletion, all at once), it stops that
 * pod's store process and starts it again with the root credentials the Secret holds now and
 * the rest of the pod's environment (RUSTFS_RPC_SECRET, when the pod sets it), then reports the
 * pod Ready once its process answers its readiness endpoint — as a readiness probe would. Each
 * pod is reconciled on its own: one held start does not hold the others.
 */
export class NodeAgent {
  private behaviour = defaultBehaviour();
  private state: AgentState = {
    podUid: null,
    storeRunning: false,
    storePid: null,
    restarts: 0,
    failedRestarts: 0,
    lastStartedAt: null,
    lastError: null,
    held: null,
    heldStarts: 0,
    behaviour: this.behaviour,
    nodes: [],
  };
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private server: http.Server | undefined;
  private readonly slots: Slot[];

  private readonly startReadyMs: number;

  constructor(private readonly opts: NodeAgentOptions) {
    if (opts.stores.length === 0) throw new Error('the node agent needs at least one store process');
    this.startReadyMs = opts.startReadyMs ?? START_READY_MS;
    this.slots = opts.stores.map((store, i) => new Slot(`${opts.statefulSet}-${i}`, store));
  }

  snapshot(): AgentState {
    const first = this.slots[0]!;
    const held = this.slots.find((s) => s.held)?.held ?? null;
    return {
      ...this.state,
      podUid: first.podUid,
      storeRunning: first.store.running,
      storePid: first.store.pid ?? null,
      held: held && { ...held },
      behaviour: { ...this.behaviour },
      nodes: this.slots.map((s) => ({
        pod: s.pod,
        podUid: s.podUid,
        endpoint: s.store.endpoint,
        storeRunning: s.store.running,
        storePid: s.store.pid ?? null,
        ready: s.storeStarted && s.store.running,
        restarts: s.restarts,
        podsStarted: s.podsStarted,
      })),
    };
  }

  setBehaviour(patch: Partial<AgentBehaviour>): void {
    this.behaviour = { ...this.behaviour, ...patch };
  }

  /** Lets the held store starts go on, and holds no further start. */
  release(): void {
    this.behaviour.holdCount = 0;
    for (const slot of this.slots) slot.releaseHeld?.();
  }

  /** Starts the reconcile loop and the control API; resolves with the API's URL. */
  async start(port: number): Promise<string> {
    this.timer = setInterval(() => {
      for (const slot of this.slots) void this.tick(slot);
    }, 250);
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const slot of this.slots) slot.releaseHeld?.();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await Promise.all(this.slots.map((s) => s.store.stop()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method === 'GET' && req.url === '/state') return reply(200, this.snapshot());
      if (req.method === 'POST' && req.url === '/reset') {
        this.release();
        this.behaviour = defaultBehaviour();
        return reply(200, this.snapshot());
      }
      if (req.method === 'POST' && req.url === '/release') {
        const released = this.slots.some((s) => s.held !== null);
        this.release();
        return reply(200, { ...this.snapshot(), released });
      }
      if (req.method === 'POST' && req.url === '/behaviour') {
        let raw = '';
        for await (const chunk of req) raw += chunk;
        const body = JSON.parse(raw || '{}') as Record<string, unknown>;
        const patch: Partial<AgentBehaviour> = {};
        const hold = body.hold;
        if (hold !== undefined) {
          if (typeof hold === 'boolean') patch.holdCount = hold ? 1 : 0;
          else if (typeof hold === 'number' && Number.isInteger(hold) && hold >= 0) patch.holdCount = hold;
          else return reply(400, { error: 'hold must be true, false or a non-negative integer' });
        }
        for (const key of ['delayMs', 'delayCount', 'failCount'] as const) {
          const v = body[key];
          if (v === undefined) continue;
          if (v !== null && (typeof v !== 'number' || v < 0)) {
            return reply(400, { error: `${key} must be a non-negative number` });
          }
          (patch as Record<string, unknown>)[key] = v;
        }
        this.setBehaviour(patch);
        return reply(200, this.snapshot());
      }
      reply(404, {
        error:
          'GET /state, POST /behaviour {hold, delayMs, delayCount, failCount}, POST /release, POST /reset',
      });
    } catch (err) {
      reply(400, { error: (err as Error).message });
    }
  }

  private async tick(slot: Slot): Promise<void> {
    if (slot.busy || this.stopped) return;
    slot.busy = true;
    try {
      await this.reconcile(slot);
    } catch (err) {
      this.state.lastError = (err as Error).message;
    } finally {
      slot.busy = false;
    }
  }

  private async readPod(slot: Slot): Promise<V1Pod | null> {
    try {
      return await this.opts.core.readNamespacedPod({ name: slot.pod, namespace: this.opts.namespace });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw err;
    }
  }

  /** Takes the node out of the Service, lets its connections end, then stops its process. */
  private async stopStore(slot: Slot): Promise<void> {
    this.opts.service?.setReady(slot.port, false);
    if (slot.store.running) await this.opts.service?.drain(slot.port);
    await slot.store.stop();
  }

  private async reconcile(slot: Slot): Promise<void> {
    const pod = await this.readPod(slot);
    const live = pod && !pod.metadata?.deletionTimestamp ? pod : null;
    if (!live || live.metadata?.uid !== slot.podUid) {
      if (slot.store.running) {
        this.opts.log(`node agent: store pod ${slot.pod} going away, stopping its store`);
        await this.stopStore(slot);
      }
      slot.podUid = null;
      slot.notReadySince = null;
    }
    if (!live || !live.spec?.nodeName) return;
    if (live.metadata?.uid === slot.podUid && slot.notReadySince !== null) {
      if (!slot.store.running) {
        // As a kubelet restarts a container that exited: the next tick starts it again.
        this.state.lastError = `store process of ${slot.pod} exited before it was ready`;
        this.opts.log(`node agent: ${this.state.lastError}; restarting it`);
        slot.podUid = null;
        slot.notReadySince = null;
        await this.stopStore(slot);
      } else if (await slot.store.ready()) {
        const after = Math.round((Date.now() - slot.notReadySince + this.startReadyMs) / 1000);
        slot.notReadySince = null;
        await this.markStarted(slot, live, `ready ${after} s after its start`);
      }
      return;
    }
    if (live.metadata?.uid === slot.podUid) {
      // Keep Ready in step with the process, as a readiness probe would (and retry a
      // status write that lost a conflict); the Service follows the pod's readiness.
      const shouldBeReady = slot.storeStarted && slot.store.running;
      this.opts.service?.setReady(slot.port, shouldBeReady);
      if (isReady(live) !== shouldBeReady) {
        await this.setPodStatus(slot, live, shouldBeReady, shouldBeReady ? 'ready' : 'store process exited');
      }
      return;
    }
    slot.podUid = live.metadata!.uid!;
    slot.storeStarted = false;
    try {
      await this.startFor(slot, live);
    } catch (err) {
      // As a kubelet restarts a container that failed to start: forget the pod so the next
      // tick starts the store for it again, instead of leaving it not ready for good.
      this.state.lastError = (err as Error).message;
      this.opts.log(
        `node agent: starting the store of ${slot.pod} failed (${this.state.lastError}); retrying`,
      );
      slot.podUid = null;
      await this.stopStore(slot);
    }
  }

  private async startFor(slot: Slot, pod: V1Pod): Promise<void> {
    this.state.restarts += 1;
    slot.countStart(pod.metadata!.uid!);
    await this.setPodStatus(slot, pod, false, 'starting');
    if (this.behaviour.failCount > 0) {
      this.behaviour.failCount -= 1;
      this.state.failedRestarts += 1;
      this.state.lastError = 'restart failed on request (failCount)';
      this.opts.log(`node agent: failing this store restart of ${slot.pod}, as asked`);
      await this.setPodStatus(slot, pod, false, 'CrashLoopBackOff');
      return;
    }
    if (this.behaviour.holdCount > 0) {
      this.behaviour.holdCount -= 1;
      this.state.heldStarts += 1;
      slot.held = { podUid: pod.metadata!.uid!, pod: slot.pod, since: new Date().toISOString() };
      this.opts.log(`node agent: holding the store start of ${slot.pod} until released, as asked`);
      const released = new Promise<void>((r) => (slot.releaseHeld = r));
      try {
        if (!(await this.whilePodStays(slot, pod, released))) return;
      } finally {
        slot.held = null;
        slot.releaseHeld = undefined;
      }
    }
    const delay = this.behaviour.delayCount === 0 ? 0 : this.behaviour.delayMs;
    if (delay > 0) {
      if (this.behaviour.delayCount !== null) this.behaviour.delayCount -= 1;
      this.opts.log(`node agent: delaying the store start by ${delay} ms, as asked`);
      let timer: NodeJS.Timeout | undefined;
      const elapsed = new Promise<void>((r) => (timer = setTimeout(r, delay)));
      try {
        if (!(await this.whilePodStays(slot, pod, elapsed))) return;
      } finally {
        clearTimeout(timer);
      }
    }
    const secret = await this.opts.core.readNamespacedSecret({
      name: this.opts.rootSecret,
      namespace: this.opts.namespace,
    });
    const decode = (k: string) => Buffer.from(secret.data?.[k] ?? '', 'base64').toString('utf8');
    const root = { accessKey: decode('access-key'), secretKey: decode('secret-key') };
    if (!root.accessKey || !root.secretKey) {
      this.state.lastError = `Secret ${this.opts.namespace}/${this.opts.rootSecret} lacks access-key or secret-key`;
      await this.setPodStatus(slot, pod, false, 'CreateContainerConfigError');
      return;
    }
    // The rest of the container's environment, as the kubelet resolves it (the root keys
    // above are the rotator's contract and come from its Secret).
    let env: Record<string, string> = {};
    const container = pod.spec?.containers?.[0];
    try {
      if (container) env = await resolveContainerEnv(this.opts.core, this.opts.namespace, container);
    } catch (err) {
      if (!(err instanceof PodEnvError)) throw err;
      this.state.lastError = err.message;
      await this.setPodStatus(slot, pod, false, 'CreateContainerConfigError');
      return;
    }
    delete env.RUSTFS_ACCESS_KEY;
    delete env.RUSTFS_SECRET_KEY;
    await slot.store.start(
      root,
      () => {
        this.state.lastError = `store process of ${slot.pod} exited`;
      },
      env,
    );
    try {
      await slot.store.waitReady(this.startReadyMs);
    } catch (err) {
      await this.setPodStatus(slot, pod, false, 'store not ready');
      if (!slot.store.running) throw err;
      // Running but not ready: a readiness probe keeps the pod out of the Service, it does not
      // restart the container. Every tick checks it from now on.
      slot.notReadySince = Date.now();
      this.state.lastError = `store of ${slot.pod} not ready ${this.startReadyMs / 1000} s after its start`;
      this.opts.log(`node agent: ${this.state.lastError}; left running, Ready once it is`);
      return;
    }
    await this.markStarted(slot, pod, 'started');
  }

  /** The store of `pod` answered its readiness check: the pod is Ready and in the Service. */
  private async markStarted(slot: Slot, pod: V1Pod, how: string): Promise<void> {
    slot.storeStarted = true;
    this.state.lastStartedAt = new Date().toISOString();
    this.state.lastError = null;
    this.opts.log(`node agent: store of ${slot.pod} ${how} with the root key the Secret holds now`);
    const current = await this.readPod(slot);
    if (current && current.metadata?.uid === pod.metadata?.uid) {
      await this.setPodStatus(slot, current, true, 'ready');
      this.opts.service?.setReady(slot.port, true);
    }
  }

  /**
   * Waits for `until`, but no longer than `pod` stays (a held or delayed start ends early when
   * its pod is deleted or replaced, as a kubelet stops starting a container whose pod went
   * away). True when `until` came and the pod is still the one to start the store for.
   */
  private async whilePodStays(slot: Slot, pod: V1Pod, until: Promise<void>): Promise<boolean> {
    let done = false;
    void until.then(() => (done = true));
    while (!done && !this.stopped) {
      await Promise.race([until, new Promise((r) => setTimeout(r, POD_CHECK_MS))]);
      if (done || this.stopped) break;
      const current = await this.readPod(slot).catch(() => pod);
      if (current?.metadata?.uid !== pod.metadata?.uid || current?.metadata?.deletionTimestamp) {
        this.opts.log('node agent: the pod went away while its store start waited; not starting it');
        return false;
      }
    }
    if (this.stopped) return false;
    const current = await this.readPod(slot);
    return current?.metadata?.uid === pod.metadata?.uid && !current?.metadata?.deletionTimestamp;
  }

  private async setPodStatus(slot: Slot, pod: V1Pod, ready: boolean, reason: string): Promise<void> {
    const now = new Date();
    const fresh = (await this.readPod(slot)) ?? pod;
    if (fresh.metadata?.uid !== pod.metadata?.uid) return;
    const cond = (type: string, status: boolean) => ({
      type,
      status: status ? 'True' : 'False',
      lastTransitionTime: now,
      ...(status ? {} : { reason }),
    });
    fresh.status = {
      ...fresh.status,
      phase: 'Running',
      startTime: fresh.status?.startTime ?? now,
      hostIP: '10.0.0.1',
      podIP: '127.0.0.1',
      conditions: [
        cond('PodScheduled', true),
        cond('Initialized', true),
        cond('ContainersReady', ready),
        cond('Ready', ready),
      ],
      containerStatuses: (fresh.spec?.containers ?? []).map((c) => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready,
        started: ready,
        restartCount: 0,
        state: ready ? { running: { startedAt: now } } : { waiting: { reason } },
      })),
    };
    try {
      await this.opts.core.replaceNamespacedPodStatus({
        name: slot.pod,
        namespace: this.opts.namespace,
        body: fresh,
      });
    } catch (err) {
      // A concurrent update (the StatefulSet controller, kwok) wins; the next tick retries.
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
