// Where a command connects: Temporal by the one rule of src/temporal/connection-settings.ts
// (flags, a named sandbox, the environment, the Temporal config file's profile, defaults),
// the inventory and Kubernetes by the same order, and the payload codec.
import fs from 'node:fs';
import os from 'node:os';
import { Client, Connection, type TLSConfig, WorkflowNotFoundError } from '@temporalio/client';
import { type Command } from 'commander';
import { z } from 'zod';
import { InventoryError, loadInventory, type Inventory } from '../inventory';
import { createKube, loadKubeConfig, type Kube, type KubeConnectionOptions } from '../kube';
import { SANDBOX_STATE_ENV, type SandboxState } from '../sandbox/state';
import { AesGcmCodec, codecFromEnv } from '../temporal/codec';
import { DEFAULT_TASK_QUEUE, dataConverter } from '../temporal/data-converter';
import { temporalSettings } from '../temporal/connection-settings';
import { readSandboxState } from '../worker/config';
import { CLI_IDENTITY_PREFIX } from '../temporal/identity';
import { CliError, EXIT } from './output';

export const connectionOptionsSchema = z.object({
  address: z.string().optional(),
  namespace: z.string().optional(),
  profile: z.string().optional(),
  taskQueue: z.string().optional(),
  config: z.string().optional(),
  sandbox: z.string().optional(),
  kubeconfig: z.string().optional(),
  json: z.boolean().default(false),
});
export type ConnectionFlags = z.infer<typeof connectionOptionsSchema>;

/** Adds --address/--namespace/--task-queue/--config/--sandbox/--json to a command. */
export function withConnection(cmd: Command, opts: { kube?: boolean } = {}): Command {
  cmd
    .option('--address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS, default localhost:7233)')
    .option('--namespace <ns>', 'Temporal namespace (env TEMPORAL_NAMESPACE, default "default")')
    .option(
      '--profile <name>',
      'profile of the Temporal client config file (env TEMPORAL_PROFILE; file TEMPORAL_CONFIG_FILE)',
    )
    .option(
      '--task-queue <queue>',
      `worker task queue (env TEMPORAL_TASK_QUEUE, default "${DEFAULT_TASK_QUEUE}")`,
    )
    .option('--config <inventory.yaml>', 'inventory file (env ROTATOR_CONFIG)')
    .option('--sandbox <state.json>', `take every setting from a local sandbox (env ${SANDBOX_STATE_ENV})`);
  if (opts.kube)
    cmd.option('--kubeconfig <path>', 'kubeconfig (env KUBECONFIG; in a pod: the ServiceAccount)');
  return cmd.option('--json', 'print one JSON document');
}

/**
 * The payload codec the CLI decodes (and encodes) with: the keys of ROTATOR_CODEC_KEY /
 * ROTATOR_CODEC_KEYS when set (the current one encrypts), plus the sandbox's own key when a
 * sandbox is named — the key its codec server, and so its Web UI, encrypts with (the UI's
 * Start Workflow form sends its input through that codec server). So `--sandbox` alone
 * reads the demo's runs and the runs the Web UI started, and a CLI with its own keys still
 * reads those.
 */
export function cliCodec(env: NodeJS.ProcessEnv, sandbox: SandboxState | undefined): AesGcmCodec | undefined {
  const own = codecFromEnv(env); // validates the key variables (throws on a bad one)
  if (!sandbox?.codec?.key) return own;
  const box = { id: sandbox.codec.keyId, key: Buffer.from(sandbox.codec.key, 'base64') };
  return own ? own.alsoDecrypting(box.id, box.key) : new AesGcmCodec(new Map([[box.id, box.key]]), box.id);
}

export interface ResolvedConnection {
  address: string;
  namespace: string;
  taskQueue: string;
  configFile?: string;
  kube: KubeConnectionOptions;
  apiKey?: string;
  /** false, true (system CAs), or the mTLS pair / private CA / server name. */
  tls: boolean | TLSConfig;
  grpcMeta?: Record<string, string>;
  sandbox?: SandboxState;
  sandboxFile?: string;
  codec?: AesGcmCodec;
}

export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedConnection {
  const sandboxFile = flags.sandbox ?? env[SANDBOX_STATE_ENV];
  let sandbox: SandboxState | undefined;
  if (sandboxFile) {
    try {
      sandbox = readSandboxState(sandboxFile);
    } catch (err) {
      throw new CliError((err as Error).message, EXIT.usage);
    }
  }
  let codec: AesGcmCodec | undefined;
  try {
    codec = cliCodec(env, sandbox);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
  const kubeconfig = flags.kubeconfig ?? (sandbox ? sandbox.kube.kubeconfig : env.KUBECONFIG);
  const temporal = temporalSettings({
    flags,
    env,
    sandbox: sandbox && sandboxFile ? { file: sandboxFile, state: sandbox } : undefined,
  });
  if (!temporal.ok) throw new CliError(temporal.problems.join('; '), EXIT.usage);
  const { address, namespace, apiKey, tls, grpcMeta } = temporal.settings;
  return {
    address,
    namespace,
    taskQueue: flags.taskQueue ?? env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    configFile: flags.config ?? (sandbox ? sandbox.inventory : env.ROTATOR_CONFIG),
    kube: kubeconfig
      ? { kubeconfig: kubeconfig.split(':')[0] }
      : env.KUBERNETES_SERVICE_HOST
        ? { inCluster: true }
        : {},
    apiKey,
    tls: tls ?? false,
    grpcMeta,
    sandbox,
    sandboxFile,
    codec,
  };
}

/** The inventory, or a usage error saying how to name it. */
export async function requireInventory(conn: ResolvedConnection): Promise<Inventory> {
  if (!conn.configFile) {
    throw new CliError(
      'no inventory: pass --config <inventory.yaml>, set ROTATOR_CONFIG, or use --sandbox <state.json>',
    );
  }
  try {
    return await loadInventory(conn.configFile);
  } catch (err) {
    throw new CliError(err instanceof InventoryError ? err.message : String(err), EXIT.usage);
  }
}

/** "alice@laptop": who is acting, recorded in update arguments and the start identity. */
export function whoami(): string {
  let user = process.env.USER ?? process.env.USERNAME ?? 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (containers): keep the env guess
  }
  return `${user}@${os.hostname()}`;
}

export interface Connected {
  client: Client;
  close(): Promise<void>;
}

export async function connect(conn: ResolvedConnection): Promise<Connected> {
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: conn.address,
      apiKey: conn.apiKey,
      tls: conn.tls === false ? undefined : conn.tls,
      metadata: conn.grpcMeta,
      connectTimeout: '5s',
    });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${conn.address}: ${(err as Error).message}. ` +
        'Pass --address, set TEMPORAL_ADDRESS, or --sandbox <state.json> for the local stack.',
      EXIT.unavailable,
    );
  }
  const client = new Client({
    connection,
    namespace: conn.namespace,
    dataConverter: dataConverter(conn.codec),
    identity: `${CLI_IDENTITY_PREFIX}${whoami()}`,
  });
  return { client, close: () => connection.close() };
}

/** Runs fn with a client and always closes the connection. */
export async function withClient<T>(
  conn: ResolvedConnection,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const c = await connect(conn);
  try {
    return await fn(c.client);
  } finally {
    await c.close();
  }
}

export function kubeFor(conn: ResolvedConnection): Kube {
  try {
    if (!conn.kube.kubeconfig && !conn.kube.inCluster && !process.env.HOME) {
      throw new Error('no kubeconfig');
    }
    if (conn.kube.kubeconfig && !fs.existsSync(conn.kube.kubeconfig)) {
      throw new Error(`kubeconfig ${conn.kube.kubeconfig} does not exist`);
    }
    return createKube(loadKubeConfig(conn.kube));
  } catch (err) {
    throw new CliError(
      `cannot load Kubernetes credentials: ${(err as Error).message}; pass --kubeconfig, set KUBECONFIG or use --sandbox`,
      EXIT.usage,
    );
  }
}

/** Maps "no such workflow" to exit 4 with the command that lists what exists. */
export function notFound(err: unknown, id: string): never {
  if (err instanceof WorkflowNotFoundError || /not found/i.test((err as Error)?.message ?? '')) {
    throw new CliError(
      `no workflow with ID "${id}" in this namespace. List recent runs in the Web UI, or with: temporal workflow list --query "RotatorKind IS NOT NULL"`,
      EXIT.notFound,
    );
  }
  throw err;
}
