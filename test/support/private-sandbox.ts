// The dashi platform of a test's own on the shared stack, for PRIVATE test files
// (scripts/test-lanes.mjs): what `rotator sandbox up` seeds (src/sandbox/sandbox.ts) — a store
// process with its root Secret and StatefulSet, the serving consumers, the node agent that plays
// the kubelet for the store, the pipeline zone's Prefect work pool — again, in Kubernetes
// namespaces, a Temporal namespace and a work pool named after the test, with a store process
// and a node agent (in the test's process) of its own. Its state file is the shared one with
// those parts replaced, so the CLI, a worker and the tests' helpers take it as they take the
// shared stack's (ROTATOR_SANDBOX_STATE): a root rotation, a held store start, a schedule, a run
// lock or a bootstrap here never reaches another file, and nothing another file does reaches it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKube } from '../../src/kube/client';
import { canonicalPrefectApi } from '../../src/inventory/schema';
import { createPrefectClient } from '../../src/prefect/client';
import { DASHI_INVENTORY, sandboxInventory } from '../../src/sandbox/inventory';
import { NodeAgent } from '../../src/sandbox/node-agent';
import { platformManifests, PLATFORM } from '../../src/sandbox/platform';
import { freePort } from '../../src/sandbox/ports';
import { createSeedPool } from '../../src/sandbox/prefect-server';
import { SEED_POOL } from '../../src/sandbox/sandbox';
import { type SandboxState } from '../../src/sandbox/state';
import { sandboxStoreKind, StoreProcess } from '../../src/sandbox/store-process';
import { adminKube, eventually } from './kube';
import { deleteNamespace } from './kube-fixtures';
import { privateTemporalNamespace } from './private-namespace';

/** The seed's names that a private sandbox replaces (dashi.yaml, the platform's manifests). */
const SEED_NAMES = ['dashi-platform', 'dashi-data', 'dashi-serving', SEED_POOL] as const;

export interface PrivateSandbox {
  /** The shared stack's state with the store, the agent, the namespaces and the inventory replaced. */
  state: SandboxState;
  /** Its state file: ROTATOR_SANDBOX_STATE for the CLI and a worker. */
  stateFile: string;
  /** config/dashi.yaml with the private names: the source of a test worker's inventory. */
  inventorySource: string;
  /** The private name of a seed name (dashi-platform, dashi-data, dashi-serving, dashi-default). */
  ns: { platform: string; data: string; serving: string; pool: string };
  /** Its Kubernetes namespaces (platform, data, serving): where collectSecretValues looks. */
  namespaces: string[];
  /** `text` with every seed name replaced by its private one. */
  rename(text: string): string;
  close(): Promise<void>;
}

/**
 * Seeds a private dashi platform named `<name>-<random>` on `shared`'s apiserver, Temporal
 * server and Prefect server. Namespace names stay under 63 characters for a `name` of up to 30.
 */
export async function privateSandbox(shared: SandboxState, name: string): Promise<PrivateSandbox> {
  const p = `${name}-${randomBytes(3).toString('hex')}`;
  const ns = {
    platform: `${p}-platform`,
    data: `${p}-data`,
    serving: `${p}-serving`,
    pool: `${p}-default`,
  };
  const names: Record<(typeof SEED_NAMES)[number], string> = {
    'dashi-platform': ns.platform,
    'dashi-data': ns.data,
    'dashi-serving': ns.serving,
    [SEED_POOL]: ns.pool,
  };
  // Whole names only: the store user dashi-serving-reader keeps its name.
  const rename = (text: string) =>
    text.replace(
      new RegExp(`\\b(${SEED_NAMES.join('|')})(?![\\w-])`, 'g'),
      (seed) => names[seed as keyof typeof names],
    );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rotator-private-${name}-`));
  const closers: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { kc, core, apps } = adminKube(shared);
    const kind = sandboxStoreKind();
    const store = new StoreProcess(
      kind,
      await freePort(),
      path.join(dir, 'store-data'),
      path.join(dir, 'logs'),
    );
    const root = {
      'access-key': 'rustfs-root',
      'secret-key': randomBytes(30).toString('base64url').slice(0, 40),
      endpoint: store.endpoint,
    };
    const seed = platformManifests(root);
    const manifests = JSON.parse(rename(JSON.stringify(seed))) as typeof seed;
    for (const namespace of manifests.namespaces) {
      await core.createNamespace({
        body: {
          ...namespace,
          metadata: { ...namespace.metadata, labels: { 'rotator.rustfs.dev/test': 'true' } },
        },
      });
      closers.push(() => deleteNamespace(createKube(kc), namespace.metadata!.name!));
    }
    await core.createNamespacedSecret({ namespace: ns.platform, body: manifests.rootSecret });

    const agent = new NodeAgent({
      core,
      stores: [store],
      namespace: ns.platform,
      statefulSet: PLATFORM.statefulSet,
      rootSecret: PLATFORM.rootSecret,
      log: () => undefined,
    });
    const agentUrl = await agent.start(await freePort());
    // Stops the store process too.
    closers.push(() => agent.stop());
    await apps.createNamespacedStatefulSet({ namespace: ns.platform, body: manifests.storeStatefulSet });
    for (const d of manifests.consumers)
      await apps.createNamespacedDeployment({ namespace: d.metadata!.namespace!, body: d });

    const prefect = { authString: shared.prefect.authString };
    await createSeedPool(shared.prefect.api, prefect, ns.pool);
    closers.push(() =>
      createPrefectClient(new Map([[canonicalPrefectApi(shared.prefect.api), prefect]])).deletePool(
        shared.prefect.api,
        ns.pool,
      ),
    );

    const [temporalNamespace] = await Promise.all([
      privateTemporalNamespace(shared, `rotator-${p}`),
      eventually(
        `the private store of ${p} started by its node agent`,
        async () => agent.snapshot().nodes.every((n) => n.ready),
        90_000,
      ),
    ]);

    const metricsPort = await freePort();
    const state: SandboxState = {
      ...shared,
      dir,
      inventory: path.join(dir, 'inventory.yaml'),
      temporal: { ...shared.temporal, namespace: temporalNamespace },
      store: {
        kind,
        endpoint: store.endpoint,
        region: shared.store.region,
        rootSecret: { namespace: ns.platform, name: PLATFORM.rootSecret },
        workload: { kind: 'StatefulSet', namespace: ns.platform, name: PLATFORM.statefulSet },
      },
      agent: { url: agentUrl },
      metrics: { address: `127.0.0.1:${metricsPort}`, url: `http://127.0.0.1:${metricsPort}/metrics` },
    };
    const inventorySource = path.join(dir, 'dashi.yaml');
    fs.writeFileSync(inventorySource, rename(fs.readFileSync(DASHI_INVENTORY, 'utf8')));
    fs.writeFileSync(state.inventory, sandboxInventory(state, {}, inventorySource));
    const stateFile = path.join(dir, 'state.json');
    fs.writeFileSync(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
    return {
      state,
      stateFile,
      inventorySource,
      ns,
      namespaces: [ns.platform, ns.data, ns.serving],
      rename,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
