import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { type ActivityDeps } from '../../src/activities';
import { loadInventory, type Inventory } from '../../src/inventory';
import { type KubeConnectionOptions } from '../../src/kube';
import { type AgentBehaviour, type AgentState, type HeldStart } from '../../src/sandbox/node-agent';
import { sandboxInventory } from '../../src/sandbox/inventory';
import { type SandboxState } from '../../src/sandbox/state';
import { AesGcmCodec } from '../../src/temporal/codec';
import { dataConverter } from '../../src/temporal/data-converter';
import { buildDeps, createRotatorWorker, storeConnection } from '../../src/worker/build';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowStatus } from '../../src/workflows/types';
import { adminKube, eventually } from './kube';
import { testWorkflowBundle } from './build';

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  // The SDK's INFO lines (bundle sizes, state changes) drown the test report.
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

export interface Rotator {
  client: Client;
  inventory: Inventory;
  inventoryFile: string;
  codec: AesGcmCodec;
  taskQueue: string;
  deps: ActivityDeps;
  worker: Worker;
  /** Stops the worker (workflows stay open on the server) and closes connections. */
  stopWorker(): Promise<void>;
  /** Starts a fresh worker on the same task queue (after stopWorker), with another codec if given. */
  restartWorker(opts?: { codec?: AesGcmCodec }): Promise<void>;
  close(): Promise<void>;
}

export interface RotatorOptions {
  grace?: string;
  restartTimeout?: string;
  pauseTimeout?: string;
  /** Who the worker is in Kubernetes (default: the sandbox admin). */
  kube?: KubeConnectionOptions;
  /** Where the worker reaches the store (default: the sandbox store). */
  storeEndpoint?: string;
  /** Another StatefulSet of the store's namespace as the inventory's store workload. */
  storeWorkload?: string;
  /** Reuse an existing task queue and codec (a second worker for the same runs). */
  taskQueue?: string;
  codec?: AesGcmCodec;
  /** No payload codec (replay fixtures): histories must then hold no secret by construction. */
  plainPayloads?: boolean;
  /** Notification sinks for the inventory (YAML shape), and the environment their urlFrom reads. */
  notifications?: object[];
  env?: Record<string, string>;
  /** Where notifications link runs to (the sandbox's Web UI by default). */
  webUiUrl?: string;
  /** The inventory's approvals section (YAML shape; default: the sandbox's, any Temporal client decides). */
  approvals?: object;
  /** The Temporal namespace of the worker and client (the sandbox's by default). */
  namespace?: string;
  /**
   * The inventory the sandbox's is made from: a private sandbox's (test/support/private-sandbox.ts,
   * its `inventorySource`) for a `stack` that is its state. Default config/dashi.yaml.
   */
  inventorySource?: string;
}

/** A real worker on the sandbox's Temporal server, configured like production but faster to poll. */
export async function startRotator(stack: SandboxState, opts: RotatorOptions = {}): Promise<Rotator> {
  quietRuntime();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-test-'));
  const inventoryFile = path.join(dir, 'inventory.yaml');
  fs.writeFileSync(
    inventoryFile,
    sandboxInventory(
      stack,
      {
        grace: opts.grace,
        restartTimeout: opts.restartTimeout,
        pauseTimeout: opts.pauseTimeout,
        notifications: opts.notifications,
        approvals: opts.approvals,
        storeWorkload: opts.storeWorkload,
      },
      ...(opts.inventorySource ? [opts.inventorySource] : []),
    ),
  );
  const inventory = await loadInventory(inventoryFile);
  const codec = opts.codec ?? new AesGcmCodec(new Map([['test', randomBytes(32)]]), 'test');
  const taskQueue = opts.taskQueue ?? `rotator-test-${randomBytes(3).toString('hex')}`;
  const clientConnection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({
    connection: clientConnection,
    namespace: opts.namespace ?? stack.temporal.namespace,
    dataConverter: dataConverter(opts.plainPayloads ? undefined : codec),
  });
  const deps = buildDeps({
    inventory,
    kube: opts.kube ?? { kubeconfig: stack.kube.kubeconfig },
    store: storeConnection(inventory, opts.storeEndpoint),
    client,
    namespace: opts.namespace ?? stack.temporal.namespace,
    prefect: new Map([[stack.prefect.api, { authString: stack.prefect.authString }]]),
    webUiUrl: opts.webUiUrl ?? stack.temporal.uiUrl,
    pollIntervalMs: 200,
  });
  if (opts.env) deps.env = opts.env;

  let connection: NativeConnection | undefined;
  let running: Promise<void> | undefined;
  let worker!: Worker;
  let workerCodec = codec;
  const startWorker = async (restart: { codec?: AesGcmCodec } = {}) => {
    workerCodec = restart.codec ?? workerCodec;
    connection = await NativeConnection.connect({ address: stack.temporal.address });
    worker = await createRotatorWorker({
      connection,
      namespace: opts.namespace ?? stack.temporal.namespace,
      taskQueue,
      deps,
      codec: opts.plainPayloads ? undefined : workerCodec,
      workflowBundle: testWorkflowBundle(),
      extra: { shutdownGraceTime: '2s' },
    });
    running = worker.run();
  };
  const stopWorker = async () => {
    if (!running) return;
    worker.shutdown();
    await running.catch(() => undefined);
    running = undefined;
    await connection?.close();
  };
  await startWorker();
  const rotator: Rotator = {
    client,
    inventory,
    inventoryFile,
    codec,
    taskQueue,
    deps,
    get worker() {
      return worker;
    },
    stopWorker,
    restartWorker: startWorker,
    async close() {
      await stopWorker();
      await clientConnection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return rotator;
}

/**
 * Every secret value the sandbox holds now: zone, pending and root Secrets, current and previous
 * keys (in the seed's namespaces, or a private sandbox's).
 */
export async function collectSecretValues(
  stack: SandboxState,
  into: Set<string> = new Set(),
  namespaces: string[] = ['dashi-platform', 'dashi-data', 'dashi-serving'],
): Promise<Set<string>> {
  const { core } = adminKube(stack);
  for (const namespace of namespaces) {
    const list = await core.listNamespacedSecret({ namespace });
    for (const s of list.items) {
      for (const key of ['secret-key', 'previous-secret-key']) {
        const v = s.data?.[key];
        if (v) into.add(Buffer.from(v, 'base64').toString('utf8'));
      }
    }
  }
  return into;
}

/** Encoded payloads decoded with the codec, so the scan sees what the codec hides too. */
async function decodeDeep(value: unknown, codec: AesGcmCodec, out: string[]): Promise<void> {
  if (value instanceof Uint8Array) {
    out.push(Buffer.from(value).toString('utf8'), Buffer.from(value).toString('base64'));
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) await decodeDeep(v, codec, out);
    return;
  }
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (obj.metadata && obj.data instanceof Uint8Array) {
      const [decoded] = await codec.decode([obj as never]);
      if (decoded !== obj) await decodeDeep(decoded, codec, out);
    }
    for (const v of Object.values(obj)) await decodeDeep(v, codec, out);
    return;
  }
  if (typeof value === 'string') out.push(value);
}

/**
 * Exports the full history of each workflow (and, for a parent, its children's) and
 * fails if any secret value appears in it: raw, base64 or hex, before or after decoding.
 */
export async function assertNoSecretsInHistory(
  rotator: Rotator,
  workflowIds: string[],
  secrets: Set<string>,
): Promise<number> {
  let events = 0;
  for (const id of workflowIds) {
    const history = await rotator.client.workflow.getHandle(id).fetchHistory();
    events += history.events?.length ?? 0;
    const texts: string[] = [];
    await decodeDeep(history, rotator.codec, texts);
    const haystack = texts.join('\n');
    for (const secret of secrets) {
      if (secret.length < 8) continue;
      for (const [encoding, needle] of [
        ['raw', secret],
        ['base64', Buffer.from(secret).toString('base64')],
        ['hex', Buffer.from(secret).toString('hex')],
      ] as const) {
        if (haystack.includes(needle)) {
          throw new Error(`workflow ${id}: a secret value appears in its history (${encoding})`);
        }
      }
    }
  }
  return events;
}

/** The run's status once its status query reports `phase`. */
export function waitPhase(
  handle: WorkflowHandle,
  phase: WorkflowStatus['phase'],
  timeoutMs = 60_000,
): Promise<WorkflowStatus> {
  return eventually(
    `phase ${phase}`,
    async () => {
      const s = await handle.query(statusQuery);
      return s.phase === phase ? s : undefined;
    },
    timeoutMs,
  );
}

/**
 * The sandbox's node agent (src/sandbox/node-agent.ts), which plays the kubelet for the store:
 * tests make the store's next restart wait (hold), slow (delayMs) or fail (failCount).
 */
export function nodeAgent(stack: SandboxState) {
  const post = async (route: string, body?: object): Promise<AgentState> => {
    const res = await fetch(`${stack.agent.url}${route}`, {
      method: 'POST',
      body: body && JSON.stringify(body),
    });
    const text = await res.text();
    assert.equal(res.status, 200, `POST ${route}: ${text}`);
    return JSON.parse(text) as AgentState;
  };
  const state = async (): Promise<AgentState> =>
    (await (await fetch(`${stack.agent.url}/state`)).json()) as AgentState;
  return {
    state,
    behaviour: (b: Partial<Omit<AgentBehaviour, 'holdCount'>> & { hold?: boolean | number }) =>
      post('/behaviour', b),
    /** The store's next start waits until release(), or until its pod is replaced (a rollback's restart). */
    hold: () => post('/behaviour', { hold: true }),
    /** Lets the held start go on (and holds no later one). */
    release: () => post('/release'),
    /** Every default back; a held start is released. */
    reset: () => post('/reset'),
    /** The start the agent holds now: the store's pod was replaced and the store stays down. */
    held: (timeoutMs = 60_000): Promise<HeldStart> =>
      eventually(
        'the node agent to hold the store start',
        async () => (await state()).held ?? undefined,
        timeoutMs,
      ),
  };
}
