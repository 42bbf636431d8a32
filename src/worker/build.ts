// How the worker is built: the activities' dependencies from its configuration, the Temporal
// Worker running the workflows (with their interceptor), and the workflow bundle `npm run build`
// writes once instead of bundling at every start. main.ts runs it; tests and benchmarks reuse it.
import fs from 'node:fs';
import path from 'node:path';
import { type Client } from '@temporalio/client';
import { bundleWorkflowCode, type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { type Inventory } from '../inventory';
import { createPrefectClient, prefectCredentialsFromEnv, type PrefectCredentials } from '../prefect/client';
import { createKube, loadKubeConfig, type KubeConnectionOptions } from '../kube';
import { createAdminClient, createS3, MadminAlgorithm, type Credentials } from '../rustfs';
import { type AesGcmCodec } from '../temporal/codec';
import { WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from '../temporal/workflow-code';
import { dataConverter, FAILURE_CONVERTER_PATH } from '../temporal/data-converter';

export interface StoreConnection {
  /** The admin (and smoke) endpoint the worker calls. */
  endpoint: string;
  dialect: Inventory['store']['adminApi'];
  region: string;
}

export function storeConnection(inventory: Inventory, adminEndpointOverride?: string): StoreConnection {
  return {
    endpoint: adminEndpointOverride ?? inventory.store.adminEndpoint,
    dialect: inventory.store.adminApi,
    region: inventory.store.region,
  };
}

export function buildDeps(opts: {
  inventory: Inventory;
  kube: KubeConnectionOptions;
  store: StoreConnection;
  client: Client;
  namespace: string;
  /** Credentials per Prefect API; from the environment by default (prefectCredentialsFromEnv). */
  prefect?: PrefectCredentials;
  webUiUrl?: string;
  pollIntervalMs?: number;
}): ActivityDeps {
  const kube = createKube(loadKubeConfig(opts.kube));
  return {
    inventory: opts.inventory,
    kube,
    admin: (credentials: Credentials, endpoint?: string) =>
      createAdminClient({
        endpoint: endpoint ?? opts.store.endpoint,
        dialect: opts.store.dialect,
        region: opts.store.region,
        credentials,
        // Argon2id (64 MiB, ~0.35 s, blocking) per sealed request dominated bootstrap at scale
        // (bench/RESULTS.md); MinIO and RustFS accept PBKDF2-sealed bodies just the same.
        madminAlgorithm: MadminAlgorithm.Pbkdf2AesGcm,
      }),
    s3: (credentials: Credentials, endpoint?: string) =>
      createS3({ endpoint: endpoint ?? opts.store.endpoint, region: opts.store.region, credentials }),
    prefect: createPrefectClient(opts.prefect ?? prefectCredentialsFromEnv()),
    temporal: { client: opts.client, namespace: opts.namespace },
    webUiUrl: opts.webUiUrl,
    pollIntervalMs: opts.pollIntervalMs,
  };
}

/**
 * Where `npm run build` writes the workflow bundle: dist/, beside the compiled worker. Run
 * from the TypeScript sources (tsx) the path does not exist and workers bundle at start.
 */
export const WORKFLOW_BUNDLE = path.join(__dirname, '..', 'workflow-bundle.js');

/** The prebuilt workflow bundle, when this is the compiled worker and the build made one. */
export function prebuiltWorkflowBundle(): string | undefined {
  return fs.existsSync(WORKFLOW_BUNDLE) ? WORKFLOW_BUNDLE : undefined;
}

/**
 * Bundles the workflows (webpack) into `file`, once at build time: bundling at every worker
 * start costs ~75 MB of peak memory and seconds of CPU (bench/RESULTS.md §5).
 */
export async function writeWorkflowBundle(file = WORKFLOW_BUNDLE): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES],
    // Workflow failures are converted inside the bundle: their messages encoded there too.
    failureConverterPath: FAILURE_CONVERTER_PATH,
  });
  fs.writeFileSync(file, code);
}

/** A worker running the three workflows with activities built from `deps`. */
export async function createRotatorWorker(opts: {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  codec?: AesGcmCodec;
  /** A bundle made by writeWorkflowBundle; without it the workflows are bundled here. */
  workflowBundle?: string;
  extra?: Partial<WorkerOptions>;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle
      ? { workflowBundle: { codePath: opts.workflowBundle } }
      : {
          workflowsPath: WORKFLOWS_PATH,
          interceptors: { workflowModules: [...WORKFLOW_INTERCEPTOR_MODULES] },
        }),
    activities: createActivities(opts.deps),
    dataConverter: dataConverter(opts.codec),
    // The SDK sizes its default from the V8 heap limit, which falls to 10 workflows when the
    // worker runs with a capped heap (bench/RESULTS.md §5); a run with more open workflows
    // than cached ones replays a history at every task. 100 cached workflows take a few MB.
    maxCachedWorkflows: 100,
    ...opts.extra,
  });
}
