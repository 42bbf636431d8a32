// Outages a test can play without touching the shared sandbox (PRIVATE files, scripts/test-lanes.mjs):
// a store process of the test's own (killed and held down, or frozen with SIGSTOP), reached by a
// rotator whose inventory, Kubernetes namespace, zone, consumers, Temporal namespace, task queue and
// worker are the test's own; and the apiserver reached through a TCP proxy the test owns, which
// refuses connections for as long as the outage lasts. The sandbox's store, apiserver and other
// files never notice.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { KEYS } from '../../src/activities/credentials';
import { runState } from '../../src/activities/temporal';
import { type AuditReport, runAudit } from '../../src/audit/report';
import { loadInventory, type Inventory } from '../../src/inventory';
import { createKube } from '../../src/kube/client';
import { createPrefectClient } from '../../src/prefect/client';
import { SANDBOX_APPROVALS } from '../../src/sandbox/inventory';
import { freePort } from '../../src/sandbox/ports';
import { type SandboxState } from '../../src/sandbox/state';
import { sandboxStoreKind, StoreProcess } from '../../src/sandbox/store-process';
import { AesGcmCodec } from '../../src/temporal/codec';
import { dataConverter } from '../../src/temporal/data-converter';
import { buildDeps, createRotatorWorker, storeConnection } from '../../src/worker/build';
import { testWorkflowBundle } from './build';
import { adminKube } from './kube';
import {
  createNamespace,
  deleteNamespace,
  deploymentManifest,
  envConsumer,
  statefulSetManifest,
} from './kube-fixtures';

/** A TCP proxy to `target` that an outage closes (new connections refused, open ones cut) and reopens. */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Unreachable: the port refuses connections and every open one is cut. */
  async refuse(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  close(): Promise<void> {
    return this.refuse();
  }
}

/** A kubeconfig file for the sandbox's admin, pointed at `server` (a proxy) instead of the apiserver. */
function kubeconfigVia(stack: SandboxState, server: string, dir: string): string {
  const file = path.join(dir, 'kubeconfig');
  const text = fs.readFileSync(stack.kube.kubeconfig, 'utf8').split(stack.kube.server).join(server);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

export interface PrivateRotation {
  name: string;
  /** The Kubernetes namespace holding the root Secret, the zone Secret and the consumer. */
  namespace: string;
  zone: string;
  store: StoreProcess;
  inventory: Inventory;
  client: Client;
  taskQueue: string;
  /** The proxy the worker reaches the apiserver through, when asked for. */
  apiserver?: TcpProxy;
  /** The store down (killed) until `up()`. */
  killStore(): Promise<void>;
  /** The store back with its data and root. */
  startStore(): Promise<void>;
  /** The store frozen (SIGSTOP): connections hang, nothing is refused. */
  freezeStore(): void;
  thawStore(): void;
  /** `rotator audit` of this rotation's inventory (the CLI's own report). */
  audit(): Promise<AuditReport>;
  close(): Promise<void>;
}

/**
 * One zone, its consumer and its store, all of their own, and a worker for them on a task queue
 * of their own in `temporalNamespace`. With `viaProxy`, the worker reaches the apiserver through
 * a TcpProxy (the test's Kubernetes calls go straight to the apiserver).
 */
export async function privateRotation(
  stack: SandboxState,
  opts: { name: string; temporalNamespace: string; viaProxy?: boolean; retries?: object },
): Promise<PrivateRotation> {
  const suffix = randomBytes(3).toString('hex');
  const name = `${opts.name}-${suffix}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rotator-${opts.name}-`));
  const namespace = `outage-${name}`;
  const zone = `z-${name}`;
  const kube = adminKube(stack);

  const kind = sandboxStoreKind();
  const store = new StoreProcess(kind, await freePort(), path.join(dir, 'data'), dir);
  const root = { accessKey: `root${suffix}`, secretKey: randomBytes(24).toString('hex') };
  let expectExit = false;
  const startStore = async () => {
    expectExit = false;
    await store.start(root, () => {
      if (!expectExit) console.error(`private store ${name} exited`);
    });
    await store.waitReady(60_000);
  };
  await startStore();

  await createNamespace(createKube(kube.kc), namespace);
  await kube.core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: 'store-root' },
      stringData: { [KEYS.accessKey]: root.accessKey, [KEYS.secretKey]: root.secretKey },
    },
  });
  // The store's workload as the inventory names it, reading the root Secret as a store pod would
  // (kwok runs it; the process is the StoreProcess above, restarted by the test, not by a rollout).
  await kube.apps.createNamespacedStatefulSet({
    namespace,
    body: statefulSetManifest('store', { replicas: 1, containers: [envConsumer('store-root')] }),
  });
  // The consumer reads the zone Secret (created by BootstrapCluster) through secretKeyRef.
  await kube.apps.createNamespacedDeployment({
    namespace,
    body: deploymentManifest('consumer', { replicas: 1, containers: [envConsumer('zone-creds')] }),
  });

  const yaml = {
    store: {
      kind,
      endpoint: store.endpoint,
      adminApi: kind === 'minio' ? 'madmin' : 'rustfs',
      rootSecret: { namespace, name: 'store-root' },
      workload: { kind: 'StatefulSet', namespace, name: 'store' },
    },
    smoke: { outsideBucket: `outside-${suffix}`, prefix: 'rotator-smoke/' },
    approvals: SANDBOX_APPROVALS,
    ...(opts.retries ? { retries: opts.retries } : {}),
    zones: [
      {
        name: zone,
        user: `user-${suffix}`,
        policy: { readWrite: [`data-${suffix}`], readOnly: [] },
        secret: { namespace, name: 'zone-creds' },
        consumers: 'auto',
      },
    ],
  };
  const inventoryFile = path.join(dir, 'inventory.json');
  // JSON is YAML: the loader reads it as the inventory file.
  fs.writeFileSync(inventoryFile, JSON.stringify(yaml, null, 2));
  const inventory = await loadInventory(inventoryFile);

  let apiserver: TcpProxy | undefined;
  let kubeconfig = stack.kube.kubeconfig;
  if (opts.viaProxy) {
    const api = new URL(stack.kube.server);
    apiserver = new TcpProxy({ host: api.hostname, port: Number(api.port) });
    await apiserver.open();
    kubeconfig = kubeconfigVia(stack, `https://127.0.0.1:${apiserver.port}`, dir);
  }

  const codec = new AesGcmCodec(new Map([['test', randomBytes(32)]]), 'test');
  const taskQueue = `outage-${name}`;
  const clientConnection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({
    connection: clientConnection,
    namespace: opts.temporalNamespace,
    dataConverter: dataConverter(codec),
  });
  const deps = buildDeps({
    inventory,
    kube: { kubeconfig },
    store: storeConnection(inventory),
    client,
    namespace: opts.temporalNamespace,
    prefect: new Map(),
    pollIntervalMs: 200,
  });
  const workerConnection = await NativeConnection.connect({ address: stack.temporal.address });
  const worker: Worker = await createRotatorWorker({
    connection: workerConnection,
    namespace: opts.temporalNamespace,
    taskQueue,
    deps,
    codec,
    workflowBundle: testWorkflowBundle(),
    extra: { shutdownGraceTime: '2s' },
  });
  const running = worker.run();

  return {
    name,
    namespace,
    zone,
    store,
    inventory,
    client,
    taskQueue,
    apiserver,
    async killStore() {
      expectExit = true;
      await store.stop();
    },
    startStore,
    freezeStore() {
      process.kill(store.pid!, 'SIGSTOP');
    },
    thawStore() {
      process.kill(store.pid!, 'SIGCONT');
    },
    audit: () =>
      runAudit(
        inventory,
        createKube(kube.kc),
        inventory.store.adminEndpoint,
        (ref) => runState(client, ref),
        createPrefectClient(new Map()),
      ),
    async close() {
      worker.shutdown();
      await running.catch(() => undefined);
      await workerConnection.close();
      await clientConnection.close();
      await apiserver?.close();
      expectExit = true;
      if (store.pid) process.kill(store.pid, 'SIGCONT');
      await store.stop();
      await deleteNamespace(createKube(kube.kc), namespace);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
