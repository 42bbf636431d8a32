import http from 'node:http';
import { type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
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
  since: string;
}

export interface AgentState {
  podUid: string | null;
  storeRunning: boolean;
  storePid: number | null;
  restarts: number;
  failedRestarts: number;
  lastStartedAt: string | null;
  lastError: string | null;
  /** The store start being held now, if any. */
  held: HeldStart | null;
  /** Store starts held so far (released or ended by their pod going away). */
  heldStarts: number;
  behaviour: AgentBehaviour;
}

export interface NodeAgentOptions {
  core: CoreV1Api;
  store: StoreProcess;
  namespace: string;
  statefulSet: string;
  rootSecret: string;
  log: (msg: string) => void;
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
 * Plays the kubelet for the object store: when the store's StatefulSet pod is replaced
 * (a rollout restart), it stops the store process and starts it again with the root
 * credentials the Secret holds now, then reports the pod Ready once the store answers
 * its readiness endpoint — as a readiness probe would.
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
  };
  /** Ends the held start (POST /release, /reset, stop). */
  private releaseHeld: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;
  private server: http.Server | undefined;
  private readonly podName: string;
  /** The store was started for the current pod and answered its readiness check. */
  private storeStarted = false;

  constructor(private readonly opts: NodeAgentOptions) {
    this.podName = `${opts.statefulSet}-0`;
  }

  snapshot(): AgentState {
    return {
      ...this.state,
      storeRunning: this.opts.store.running,
      storePid: this.opts.store.pid ?? null,
      held: this.state.held && { ...this.state.held },
      behaviour: { ...this.behaviour },
    };
  }

  setBehaviour(patch: Partial<AgentBehaviour>): void {
    this.behaviour = { ...this.behaviour, ...patch };
  }

  /** Lets the held store start go on, and holds no further start. */
  release(): void {
    this.behaviour.holdCount = 0;
    this.releaseHeld?.();
  }

  /** Starts the reconcile loop and the control API; resolves with the API's URL. */
  async start(port: number): Promise<string> {
    this.timer = setInterval(() => void this.tick(), 250);
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.releaseHeld?.();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.opts.store.stop();
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
        const released = this.state.held !== null;
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

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      await this.reconcile();
    } catch (err) {
      this.state.lastError = (err as Error).message;
    } finally {
      this.busy = false;
    }
  }

  private async readPod(): Promise<V1Pod | null> {
    try {
      return await this.opts.core.readNamespacedPod({ name: this.podName, namespace: this.opts.namespace });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw err;
    }
  }

  private async reconcile(): Promise<void> {
    const pod = await this.readPod();
    const live = pod && !pod.metadata?.deletionTimestamp ? pod : null;
    if (!live || live.metadata?.uid !== this.state.podUid) {
      if (this.opts.store.running) {
        this.opts.log('node agent: store pod going away, stopping the store');
        await this.opts.store.stop();
      }
      this.state.podUid = null;
    }
    if (!live || !live.spec?.nodeName) return;
    if (live.metadata?.uid === this.state.podUid) {
      // Keep Ready in step with the process, as a readiness probe would (and retry a
      // status write that lost a conflict).
      const shouldBeReady = this.storeStarted && this.opts.store.running;
      if (isReady(live) !== shouldBeReady) {
        await this.setPodStatus(live, shouldBeReady, shouldBeReady ? 'ready' : 'store process exited');
      }
      return;
    }
    this.state.podUid = live.metadata!.uid!;
    this.storeStarted = false;
    try {
      await this.startFor(live);
    } catch (err) {
      // As a kubelet restarts a container that failed to start: forget the pod so the next
      // tick starts the store for it again, instead of leaving it not ready for good.
      this.state.lastError = (err as Error).message;
      this.opts.log(`node agent: starting the store failed (${this.state.lastError}); retrying`);
      this.state.podUid = null;
      await this.opts.store.stop();
    }
  }

  private async startFor(pod: V1Pod): Promise<void> {
    this.state.restarts += 1;
    await this.setPodStatus(pod, false, 'starting');
    if (this.behaviour.failCount > 0) {
      this.behaviour.failCount -= 1;
      this.state.failedRestarts += 1;
      this.state.lastError = 'restart failed on request (failCount)';
      this.opts.log('node agent: failing this store restart, as asked');
      await this.setPodStatus(pod, false, 'CrashLoopBackOff');
      return;
    }
    if (this.behaviour.holdCount > 0) {
      this.behaviour.holdCount -= 1;
      this.state.heldStarts += 1;
      this.state.held = { podUid: pod.metadata!.uid!, since: new Date().toISOString() };
      this.opts.log('node agent: holding the store start until released, as asked');
      const released = new Promise<void>((r) => (this.releaseHeld = r));
      try {
        if (!(await this.whilePodStays(pod, released))) return;
      } finally {
        this.state.held = null;
        this.releaseHeld = undefined;
      }
    }
    const delay = this.behaviour.delayCount === 0 ? 0 : this.behaviour.delayMs;
    if (delay > 0) {
      if (this.behaviour.delayCount !== null) this.behaviour.delayCount -= 1;
      this.opts.log(`node agent: delaying the store start by ${delay} ms, as asked`);
      let timer: NodeJS.Timeout | undefined;
      const elapsed = new Promise<void>((r) => (timer = setTimeout(r, delay)));
      try {
        if (!(await this.whilePodStays(pod, elapsed))) return;
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
      await this.setPodStatus(pod, false, 'CreateContainerConfigError');
      return;
    }
    await this.opts.store.start(root, () => {
      this.state.lastError = 'store process exited';
    });
    try {
      await this.opts.store.waitReady(60_000);
    } catch (err) {
      await this.setPodStatus(pod, false, 'store not ready');
      throw err;
    }
    this.storeStarted = true;
    this.state.lastStartedAt = new Date().toISOString();
    this.state.lastError = null;
    this.opts.log('node agent: store started with the root key the Secret holds now');
    const current = await this.readPod();
    if (current && current.metadata?.uid === pod.metadata?.uid)
      await this.setPodStatus(current, true, 'ready');
  }

  /**
   * Waits for `until`, but no longer than `pod` stays (a held or delayed start ends early when
   * its pod is deleted or replaced, as a kubelet stops starting a container whose pod went
   * away). True when `until` came and the pod is still the one to start the store for.
   */
  private async whilePodStays(pod: V1Pod, until: Promise<void>): Promise<boolean> {
    let done = false;
    void until.then(() => (done = true));
    while (!done && !this.stopped) {
      await Promise.race([until, new Promise((r) => setTimeout(r, POD_CHECK_MS))]);
      if (done || this.stopped) break;
      const current = await this.readPod().catch(() => pod);
      if (current?.metadata?.uid !== pod.metadata?.uid || current?.metadata?.deletionTimestamp) {
        this.opts.log('node agent: the pod went away while its store start waited; not starting it');
        return false;
      }
    }
    if (this.stopped) return false;
    const current = await this.readPod();
    return current?.metadata?.uid === pod.metadata?.uid && !current?.metadata?.deletionTimestamp;
  }

  private async setPodStatus(pod: V1Pod, ready: boolean, reason: string): Promise<void> {
    const now = new Date();
    const fresh = (await this.readPod()) ?? pod;
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
        name: this.podName,
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
