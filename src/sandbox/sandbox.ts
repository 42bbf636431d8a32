import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, fakeNodeManifest, FAKE_NODE_NAME } from './kube-control-plane';
import { NodeAgent } from './node-agent';
import { freePort } from './ports';
import { type ManagedProcess, waitUntil } from './process';
import { platformManifests, PLATFORM } from './platform';
import { sandboxInventory } from './inventory';
import { type SandboxState } from './state';
import { CODEC_KEY_ENV, CODEC_KEY_ID_ENV, codecFromEnv } from '../temporal/codec';
import { codecServerEndpoint, startCodecServer } from '../temporal/codec-server';
import { LoadBalancer } from './load-balancer';
import {
  parseStoreNodes,
  sandboxStoreKind,
  STORE_NODES_ENV,
  StoreProcess,
  volumeUrl,
} from './store-process';
import { startTemporal } from './temporal-server';
import { createSeedPool, startPrefect, type PrefectServer } from './prefect-server';

export interface Sandbox {
  state: SandboxState;
  stateFile: string;
  agent: NodeAgent;
  stop(): Promise<void>;
}

export interface SandboxOptions {
  /** Where data, logs and kubeconfig go; a fresh temp dir by default. */
  dir?: string;
  /** Keep the dir after stop (for post-mortems). */
  keepDir?: boolean;
  log?: (msg: string) => void;
  /**
   * Store nodes: 1 (default; ROTATOR_STORE_NODES when set), or 4 to 16 for a distributed store
   * behind a loopback load balancer (see storeProcesses).
   */
  storeNodes?: number;
}

/** Distinct free loopback ports. */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/**
 * The store's processes: one on a data directory, or — for `nodes` > 1 — one per StatefulSet
 * pod in distributed mode (every node's drive listed on every node, one cluster), with a
 * loopback load balancer in front that plays the store's Service. The inventory's store
 * endpoint is the balancer's, as a Service address would be.
 */
async function storeProcesses(kind: ReturnType<typeof sandboxStoreKind>, nodes: number, dir: string) {
  const logs = path.join(dir, 'logs');
  if (nodes === 1) {
    return { stores: [new StoreProcess(kind, await freePort(), path.join(dir, 'store-data'), logs)] };
  }
  const ports = await freePorts(nodes);
  const dataDirs = ports.map((_, i) => path.join(dir, 'store-data', `n${i}`));
  const volumes = ports.map((port, i) => volumeUrl(port, dataDirs[i]!));
  const stores = ports.map(
    (port, i) => new StoreProcess(kind, port, dataDirs[i]!, logs, { volumes, name: String(i) }),
  );
  return { stores, balancer: new LoadBalancer(await freePort()) };
}

/** The work pool config/dashi.yaml's pipeline zone names. */
export const SEED_POOL = 'dashi-default';

const isConflict = (err: unknown) => (err as { code?: number }).code === 409;

async function createIgnoringExisting(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!isConflict(err)) throw err;
  }
}

/**
 * Starts the whole local stack on loopback: Temporal dev server, Kubernetes control
 * plane with kwok, the object store behind its StatefulSet and root Secret, and the
 * node agent that ties the two together. Everything it started is stopped by stop(),
 * and by the kernel if this process dies (see ManagedProcess).
 */
export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  // Ports are picked free and bound a moment later; another process (Temporal's own
  // internal listeners among them) can take one in between. That is worth another try.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSandboxOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test(String((err as Error).message))) throw err;
      (opts.log ?? console.error)(
        `[sandbox] a port was taken during start-up; retrying (attempt ${attempt + 1})`,
      );
    }
  }
}

async function startSandboxOnce(opts: SandboxOptions): Promise<Sandbox> {
  const log = opts.log ?? ((msg: string) => console.error(`[sandbox] ${msg}`));
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-sandbox-'));
  fs.mkdirSync(dir, { recursive: true });
  const processes: ManagedProcess[] = [];
  let agent: NodeAgent | undefined;
  const closers: Array<() => Promise<void>> = [];
  const stop = async () => {
    await agent?.stop();
    for (const close of closers) await close();
    for (const p of [...processes].reverse()) await p.stop();
    if (!opts.keepDir) fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    // A codec key for this sandbox, and the codec server the Web UI decrypts payloads with:
    // only the Web UI's origin (its port is chosen now, for that), a token as the endpoint's
    // path (the UI sends no headers of ours; the endpoint is in the state file, mode 600)
    // and bodies of at most 1 MiB.
    const codecKey = randomBytes(32).toString('base64');
    const codecToken = randomBytes(24).toString('base64url');
    const uiPort = await freePort();
    const codecServer = await startCodecServer(
      codecFromEnv({ [CODEC_KEY_ENV]: codecKey, [CODEC_KEY_ID_ENV]: 'sandbox' })!,
      {
        port: await freePort(),
        allowOrigins: [`http://127.0.0.1:${uiPort}`, `http://localhost:${uiPort}`],
        token: codecToken,
      },
    );
    closers.push(() => new Promise<void>((resolve) => codecServer.close(() => resolve())));
    const codecEndpoint = codecServerEndpoint(codecServer, codecToken);
    // Prefect takes the longest to start (Python imports, migrations): it runs beside
    // everything else and is awaited only at the end.
    const prefectStarting = startPrefect(dir, log, { started: processes });
    prefectStarting.catch(() => undefined);
    const [temporal, control] = await Promise.all([
      startTemporal(dir, log, { codecEndpoint, uiPort, started: processes }),
      startControlPlane(dir, log, processes),
    ]);

    const kc = new KubeConfig();
    kc.loadFromFile(control.kubeconfig);
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);

    await createIgnoringExisting(() => core.createNode({ body: fakeNodeManifest }));
    await waitUntil(
      'kwok fake node Ready',
      async () => {
        const node = await core.readNode({ name: FAKE_NODE_NAME });
        return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
      },
      { timeoutMs: 60_000, intervalMs: 300, process: control.processes.at(-1) },
    );
    log(`kwok node ${FAKE_NODE_NAME} Ready`);

    const kind = sandboxStoreKind();
    const nodes = opts.storeNodes ?? parseStoreNodes(process.env[STORE_NODES_ENV]);
    const { stores, balancer } = await storeProcesses(kind, nodes, dir);
    if (balancer) {
      await balancer.start();
      closers.push(() => balancer.stop());
    }
    const endpoint = balancer?.endpoint ?? stores[0]!.endpoint;
    const root = {
      'access-key': 'rustfs-root',
      'secret-key': randomBytes(30).toString('base64url').slice(0, 40),
      endpoint,
    };
    // A distributed RustFS gets its node-to-node secret pinned apart from the root (MinIO's
    // nodes have none: they must agree on the root itself).
    const manifests = platformManifests(root, {
      replicas: nodes,
      ...(nodes > 1 && kind === 'rustfs' ? { rpcSecret: randomBytes(24).toString('base64url') } : {}),
    });
    for (const ns of manifests.namespaces)
      await createIgnoringExisting(() => core.createNamespace({ body: ns }));
    for (const secret of [manifests.rootSecret, manifests.rpcSecret]) {
      if (!secret) continue;
      await createIgnoringExisting(() =>
        core.createNamespacedSecret({ namespace: PLATFORM.namespace, body: secret }),
      );
    }

    agent = new NodeAgent({
      core,
      stores,
      namespace: PLATFORM.namespace,
      statefulSet: PLATFORM.statefulSet,
      rootSecret: PLATFORM.rootSecret,
      ...(balancer ? { service: balancer } : {}),
      log,
    });
    const agentUrl = await agent.start(await freePort());
    await createIgnoringExisting(() =>
      apps.createNamespacedStatefulSet({ namespace: PLATFORM.namespace, body: manifests.storeStatefulSet }),
    );
    for (const d of manifests.consumers) {
      await createIgnoringExisting(() =>
        apps.createNamespacedDeployment({ namespace: d.metadata!.namespace!, body: d }),
      );
    }
    const started = agent;
    await waitUntil(
      nodes === 1 ? 'object store started by the node agent' : `all ${nodes} store nodes Ready`,
      async () => started.snapshot().nodes.every((n) => n.ready),
      { timeoutMs: 90_000 + 30_000 * (nodes - 1), intervalMs: 300 },
    );
    log(
      nodes === 1
        ? `object store (${kind}) ready on ${endpoint}`
        : `object store (${kind}, ${nodes} nodes: ${stores.map((s) => s.endpoint).join(' ')}) ready behind ${endpoint}`,
    );
    const prefect: PrefectServer = await prefectStarting;
    // The seed's `make prefect-up`: the pipeline zone's pool exists before any bootstrap.
    await createSeedPool(prefect.api, { authString: prefect.authString }, SEED_POOL);
    log(`prefect work pool ${SEED_POOL} created (kubernetes, Prefect's default template)`);

    const state: SandboxState = {
      dir,
      inventory: '',
      temporal: { address: temporal.address, namespace: temporal.namespace, uiUrl: temporal.uiUrl },
      kube: {
        server: control.server,
        kubeconfig: control.kubeconfig,
        caFile: control.caFile,
        adminToken: control.adminToken,
        noPermissionToken: control.noPermissionToken,
      },
      store: {
        kind,
        endpoint,
        ...(nodes > 1
          ? { nodes: stores.map((s, i) => ({ pod: `${PLATFORM.statefulSet}-${i}`, endpoint: s.endpoint })) }
          : {}),
        region: 'us-east-1',
        rootSecret: { namespace: PLATFORM.namespace, name: PLATFORM.rootSecret },
        workload: { kind: 'StatefulSet', namespace: PLATFORM.namespace, name: PLATFORM.statefulSet },
      },
      prefect: { api: prefect.api, authString: prefect.authString },
      agent: { url: agentUrl },
      codec: { keyId: 'sandbox', key: codecKey, endpoint: codecEndpoint },
      metrics: await freePort().then((port) => ({
        address: `127.0.0.1:${port}`,
        url: `http://127.0.0.1:${port}/metrics`,
      })),
    };
    const inventory = path.join(dir, 'inventory.yaml');
    fs.writeFileSync(inventory, sandboxInventory(state));
    state.inventory = inventory;
    const stateFile = path.join(dir, 'state.json');
    fs.writeFileSync(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
    return { state, stateFile, agent, stop };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
