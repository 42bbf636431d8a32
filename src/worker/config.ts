// The worker's whole configuration, read from the environment (12-factor: the same image
// runs in docker-compose, in a cluster and against Temporal Cloud) plus the inventory file
// it names. Every setting is checked before anything connects, and each problem is
// reported with the variable's name, what was expected and how to fix it. No secret
// value (API key, codec key, TLS key) is ever part of a message or of describeConfig().
import fs from 'node:fs';
import { z } from 'zod';
import {
  insecureAdminProblem,
  InventoryError,
  isWebhookUrl,
  loadInventory,
  parseDuration,
  type Inventory,
} from '../inventory';
import { sinkUrl } from '../notify/send';
import { type KubeConnectionOptions } from '../kube';
import {
  PREFECT_CREDENTIAL_VARIABLES,
  prefectCredentialsFromEnv,
  type PrefectCredentials,
} from '../prefect/client';
import { SANDBOX_STATE_ENV, type SandboxState } from '../sandbox/state';
import {
  CODEC_KEY_ENV,
  CODEC_KEY_ID_ENV,
  CODEC_KEYS_ENV,
  codecFromEnv,
  codecKeySet,
  type AesGcmCodec,
} from '../temporal/codec';
import { temporalSettings, type TemporalSettings } from '../temporal/connection-settings';
import { DEFAULT_TASK_QUEUE } from '../temporal/data-converter';

/** The explicit opt-out of payload encryption: without a codec key and without this, the worker refuses to start. */
export const CODEC_DISABLED_ENV = 'ROTATOR_CODEC_DISABLED';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every environment variable the worker reads, with its meaning (docs/configuring.md "Environment" lists the same). */
export const WORKER_ENV = {
  ROTATOR_CONFIG: 'path of the inventory YAML (required unless ROTATOR_SANDBOX_STATE is set)',
  TEMPORAL_ADDRESS: 'host:port of the Temporal frontend (default localhost:7233)',
  TEMPORAL_NAMESPACE: 'Temporal namespace (default "default")',
  TEMPORAL_TASK_QUEUE: `task queue the worker polls (default "${DEFAULT_TASK_QUEUE}")`,
  TEMPORAL_TLS:
    '"true" to use TLS without a client certificate (implied by the cert/key or the API key), "false" for plaintext',
  TEMPORAL_TLS_CLIENT_CERT_PATH:
    'path of the mTLS client certificate (PEM); needs TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CLIENT_KEY_PATH:
    'path of the mTLS client private key (PEM); needs TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_SERVER_CA_CERT_PATH:
    'path of the CA bundle that signed the server certificate (self-hosted with a private CA)',
  TEMPORAL_TLS_CERT: 'alias of TEMPORAL_TLS_CLIENT_CERT_PATH (the name this project used first)',
  TEMPORAL_TLS_KEY: 'alias of TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'alias of TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  TEMPORAL_TLS_SERVER_NAME: 'TLS server name override (SNI)',
  TEMPORAL_API_KEY: 'Temporal Cloud API key (sent as a bearer token; implies TLS)',
  TEMPORAL_PROFILE: 'profile of the Temporal client config file to use (default "default")',
  TEMPORAL_CONFIG_FILE: 'Temporal client config file (TOML; default ~/.config/temporalio/temporal.toml)',
  KUBECONFIG: 'kubeconfig path; unset inside a pod means the ServiceAccount (in-cluster)',
  ROTATOR_KUBE_IN_CLUSTER: '"true" forces the in-cluster ServiceAccount, "false" forbids it',
  ROTATOR_STORE_ADMIN_ENDPOINT: "overrides the inventory's store.adminEndpoint (http(s)://host:port)",
  [CODEC_KEY_ENV]: 'base64 of 32 random bytes: AES-GCM payload encryption (openssl rand -base64 32)',
  [CODEC_KEY_ID_ENV]:
    'id of the key that encrypts, stored with each payload (default "default" for ROTATOR_CODEC_KEY); needed with several keys in ROTATOR_CODEC_KEYS',
  [CODEC_KEYS_ENV]:
    'more keys as id=base64,id=base64: each decrypts what was written with it (rotating the key under open runs: the new one current, the old one kept here)',
  [CODEC_DISABLED_ENV]:
    '"true" to run without payload encryption (development only); without it the worker refuses to start with no ROTATOR_CODEC_KEY',
  ...PREFECT_CREDENTIAL_VARIABLES,
  ROTATOR_LOG_LEVEL: `one of ${LOG_LEVELS.join(', ')} (default info)`,
  ROTATOR_SHUTDOWN_GRACE: 'how long in-flight activities get to finish on SIGTERM (default 30s)',
  ROTATOR_WEB_UI_URL:
    'base URL of the Temporal Web UI (e.g. https://cloud.temporal.io or http://localhost:8233): notifications link to the run there',
  ROTATOR_METRICS_ADDRESS:
    "host:port to serve Prometheus metrics on at /metrics (the rotator's and the Temporal SDK's), e.g. 0.0.0.0:9464; unset: no metrics (a sandbox brings its own address)",
  ROTATOR_METRICS_CACHE_TTL:
    'how long one collection of the metrics is reused by the scrapes after it (default 5s: a burst of scrapes, several Prometheus replicas); "0s" collects on every scrape',
  [SANDBOX_STATE_ENV]:
    'state.json of a local sandbox: Temporal, kubeconfig, inventory and (unless ROTATOR_CODEC_KEY is set) the codec key are taken from it',
} as const;

export interface WorkerConfig {
  inventoryFile: string;
  inventory: Inventory;
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    tls?: TemporalSettings['tls'];
    apiKey?: string;
    grpcMeta?: Record<string, string>;
    /** Where the connection settings came from (src/temporal/connection-settings.ts). */
    source: string;
  };
  kube: KubeConnectionOptions;
  storeAdminEndpoint?: string;
  /** Credentials for the Prefect API of the inventory's work pools. */
  prefect: PrefectCredentials;
  /** Notifications link to runs here (ROTATOR_WEB_UI_URL, or the sandbox's Web UI). */
  webUiUrl?: string;
  codec?: AesGcmCodec;
  logLevel: LogLevel;
  shutdownGraceMs: number;
  /** host:port of the /metrics endpoint; undefined: none. */
  metricsAddress?: string;
  /** How long a metrics collection is reused (ROTATOR_METRICS_CACHE_TTL, default 5 s). */
  metricsCacheTtlMs: number;
  /** The metrics address came from the sandbox state, not ROTATOR_METRICS_ADDRESS: a port in use is not fatal. */
  metricsFromSandbox?: boolean;
  /** Set when the settings came from a sandbox state file. */
  sandbox?: SandboxState;
}

/** Startup failed: every problem found, one line each, each naming its variable. */
export class WorkerConfigError extends Error {
  override readonly name = 'WorkerConfigError';
  constructor(readonly problems: string[]) {
    super(
      `rotator worker: invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
}

const HOST_PORT_RE = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):\d{1,5}$/;
const bool = (name: string) =>
  z
    .enum(['true', 'false', '1', '0'], { error: `${name}: expected "true" or "false"` })
    .transform((v) => v === 'true' || v === '1')
    .optional();
const nonEmpty = (name: string, hint: string) =>
  z
    .string()
    .trim()
    .min(1, { error: `${name}: expected ${hint}, got an empty value` })
    .optional();

const envSchema = z.object({
  ROTATOR_CONFIG: nonEmpty('ROTATOR_CONFIG', 'the path of the inventory YAML'),
  TEMPORAL_ADDRESS: z
    .string()
    .trim()
    .refine((v) => HOST_PORT_RE.test(v) && Number(v.split(':').at(-1)) <= 65535, {
      error: (iss) =>
        `TEMPORAL_ADDRESS: expected host:port like "localhost:7233" or "<ns>.<acct>.tmprl.cloud:7233", got "${String(iss.input)}"`,
    })
    .optional(),
  TEMPORAL_NAMESPACE: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/, {
      error: (iss) =>
        `TEMPORAL_NAMESPACE: expected a namespace name like "default" or "rotator.abc12", got "${String(iss.input)}"`,
    })
    .optional(),
  TEMPORAL_TASK_QUEUE: nonEmpty('TEMPORAL_TASK_QUEUE', 'a task queue name'),
  TEMPORAL_TLS: bool('TEMPORAL_TLS'),
  TEMPORAL_TLS_CERT: nonEmpty('TEMPORAL_TLS_CERT', 'a PEM file path'),
  TEMPORAL_TLS_KEY: nonEmpty('TEMPORAL_TLS_KEY', 'a PEM file path'),
  TEMPORAL_TLS_CA: nonEmpty('TEMPORAL_TLS_CA', 'a PEM file path'),
  TEMPORAL_TLS_SERVER_NAME: nonEmpty('TEMPORAL_TLS_SERVER_NAME', 'a host name'),
  TEMPORAL_API_KEY: nonEmpty('TEMPORAL_API_KEY', 'a Temporal Cloud API key'),
  KUBECONFIG: nonEmpty('KUBECONFIG', 'a kubeconfig path'),
  ROTATOR_KUBE_IN_CLUSTER: bool('ROTATOR_KUBE_IN_CLUSTER'),
  ROTATOR_STORE_ADMIN_ENDPOINT: z
    .string()
    .trim()
    .refine(
      (v) => {
        try {
          const u = new URL(v);
          return (
            (u.protocol === 'http:' || u.protocol === 'https:') &&
            !u.username &&
            !u.password &&
            u.pathname === '/'
          );
        } catch {
          return false;
        }
      },
      {
        error: (iss) =>
          `ROTATOR_STORE_ADMIN_ENDPOINT: expected an http(s) URL with host and port only, like "http://rustfs.dashi-platform.svc:9000", got "${String(iss.input)}"`,
      },
    )
    .optional(),
  ROTATOR_LOG_LEVEL: z
    .enum(LOG_LEVELS, {
      error: (iss) =>
        `ROTATOR_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${String(iss.input)}"`,
    })
    .optional(),
  ROTATOR_SHUTDOWN_GRACE: z
    .string()
    .refine((v) => (parseDuration(v) ?? 0) > 0, {
      error: (iss) =>
        `ROTATOR_SHUTDOWN_GRACE: expected a duration like "30s" or "2m", got "${String(iss.input)}"`,
    })
    .optional(),
  ROTATOR_WEB_UI_URL: z
    .string()
    .trim()
    .refine(isWebhookUrl, {
      error: (iss) =>
        `ROTATOR_WEB_UI_URL: expected the http(s) base URL of the Temporal Web UI, like "http://localhost:8233", got "${String(iss.input)}"`,
    })
    .optional(),
  ROTATOR_METRICS_ADDRESS: z
    .string()
    .trim()
    .refine((v) => HOST_PORT_RE.test(v) && Number(v.split(':').at(-1)) <= 65535, {
      error: (iss) =>
        `ROTATOR_METRICS_ADDRESS: expected host:port to serve /metrics on, like "0.0.0.0:9464" or "127.0.0.1:9464", got "${String(iss.input)}"`,
    })
    .optional(),
  ROTATOR_METRICS_CACHE_TTL: z
    .string()
    .refine((v) => parseDuration(v) !== undefined, {
      error: (iss) =>
        `ROTATOR_METRICS_CACHE_TTL: expected a duration like "5s" or "500ms" ("0s": no reuse), got "${String(iss.input)}"`,
    })
    .optional(),
  [SANDBOX_STATE_ENV]: nonEmpty(SANDBOX_STATE_ENV, 'the path of a sandbox state.json'),
  [CODEC_DISABLED_ENV]: bool(CODEC_DISABLED_ENV),
});

/** How long a metrics collection is reused unless ROTATOR_METRICS_CACHE_TTL says otherwise. */
export const DEFAULT_METRICS_CACHE_TTL_MS = 5000;

export function readSandboxState(file: string): SandboxState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(
      `cannot read the sandbox state ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ` +
        'start one with `rotator sandbox up --state-file <path>`',
    );
  }
  const s = parsed as Partial<SandboxState>;
  if (!s?.temporal?.address || !s.kube?.kubeconfig || !s.inventory) {
    throw new Error(
      `${file} is not a sandbox state file (expected temporal.address, kube.kubeconfig and inventory)`,
    );
  }
  return s as SandboxState;
}

/**
 * Reads and checks every setting; throws one WorkerConfigError listing all problems
 * (so a broken Deployment is fixed in one round, not one variable per restart).
 */
export async function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): Promise<WorkerConfig> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) throw new WorkerConfigError(parsed.error.issues.map((i) => i.message));
  const e = parsed.data;
  const problems: string[] = [];

  let sandbox: SandboxState | undefined;
  if (e[SANDBOX_STATE_ENV]) {
    try {
      sandbox = readSandboxState(e[SANDBOX_STATE_ENV]);
    } catch (err) {
      problems.push(`${SANDBOX_STATE_ENV}: ${(err as Error).message}`);
    }
  }

  const inventoryFile = e.ROTATOR_CONFIG ?? sandbox?.inventory;
  if (!inventoryFile && !e[SANDBOX_STATE_ENV]) {
    problems.push(
      'ROTATOR_CONFIG: not set; expected the path of the inventory YAML (e.g. /etc/rotator/inventory.yaml, see config/dashi.yaml)',
    );
  }

  const connection = temporalSettings({
    env,
    sandbox: sandbox && e[SANDBOX_STATE_ENV] ? { file: e[SANDBOX_STATE_ENV], state: sandbox } : undefined,
  });
  if (!connection.ok) problems.push(...connection.problems);

  let codec: AesGcmCodec | undefined;
  try {
    codec = codecFromEnv(env);
  } catch (err) {
    problems.push((err as Error).message);
  }
  // A sandbox brings its codec key: its Web UI encrypts the Start Workflow form's input
  // through the sandbox's codec server, so a worker without that key could not read it.
  if (!codecKeySet(env) && sandbox?.codec?.key && e[CODEC_DISABLED_ENV] !== true) {
    codec = codecFromEnv({ [CODEC_KEY_ENV]: sandbox.codec.key, [CODEC_KEY_ID_ENV]: sandbox.codec.keyId });
  }
  // No key fails closed: a missing Secret (or a misspelt key in it) must not silently send
  // every input, result and Secret name to Temporal in clear. Running without encryption
  // is a decision someone states, ROTATOR_CODEC_DISABLED=true.
  if (e[CODEC_DISABLED_ENV] === true && codecKeySet(env)) {
    problems.push(
      `${CODEC_DISABLED_ENV}: "true" contradicts ${env[CODEC_KEY_ENV] ? CODEC_KEY_ENV : CODEC_KEYS_ENV}, which is set; unset one of them`,
    );
  } else if (!codec && !codecKeySet(env) && e[CODEC_DISABLED_ENV] !== true) {
    problems.push(
      `${CODEC_KEY_ENV}: ${env[CODEC_KEY_ENV] === '' ? 'empty' : 'not set'}, so workflow payloads would reach Temporal unencrypted; set it to base64 of 32 random bytes ` +
        `(openssl rand -base64 32; in a cluster, the rustfs-rotator-env Secret), or set ${CODEC_DISABLED_ENV}=true to run without encryption (development only)`,
    );
  }

  // Kubernetes: an explicit kubeconfig wins; in a pod without one, the ServiceAccount.
  const inPod = Boolean(env.KUBERNETES_SERVICE_HOST);
  let kube: KubeConnectionOptions = {};
  const kubeconfig = e.KUBECONFIG ?? sandbox?.kube.kubeconfig;
  if (
    e.ROTATOR_KUBE_IN_CLUSTER === true ||
    (e.ROTATOR_KUBE_IN_CLUSTER === undefined && !kubeconfig && inPod)
  ) {
    if (!inPod) {
      problems.push(
        'ROTATOR_KUBE_IN_CLUSTER: "true" but this process is not in a pod (KUBERNETES_SERVICE_HOST is unset); set KUBECONFIG instead',
      );
    }
    kube = { inCluster: true };
  } else if (kubeconfig) {
    const paths = kubeconfig.split(':').filter(Boolean);
    const first = paths[0]!;
    if (!fs.existsSync(first)) problems.push(`KUBECONFIG: ${first} does not exist`);
    kube = { kubeconfig: first };
  } else {
    problems.push(
      'KUBECONFIG: not set and not running in a pod; expected a kubeconfig path, or run in-cluster with the rustfs-rotator ServiceAccount',
    );
  }

  let inventory: Inventory | undefined;
  if (inventoryFile) {
    try {
      inventory = await loadInventory(inventoryFile);
    } catch (err) {
      const detail = err instanceof InventoryError ? err.message : String(err);
      problems.push(`ROTATOR_CONFIG: ${detail}`);
    }
  }

  // The override is held to the inventory's rule: no plain http:// admin calls to another
  // host unless the inventory says store.allowInsecureAdmin: true.
  if (e.ROTATOR_STORE_ADMIN_ENDPOINT && inventory) {
    const insecure = insecureAdminProblem(
      e.ROTATOR_STORE_ADMIN_ENDPOINT,
      inventory.store.allowInsecureAdmin ?? false,
    );
    if (insecure) problems.push(`ROTATOR_STORE_ADMIN_ENDPOINT: ${insecure}`);
  }

  // A sink whose URL comes from the environment: checked now, not at the first incident.
  for (const [i, sink] of (inventory?.notifications ?? []).entries()) {
    try {
      sinkUrl(sink, env);
    } catch (err) {
      problems.push(`ROTATOR_CONFIG: notifications[${i}].urlFrom.env: ${(err as Error).message}`);
    }
  }

  let prefect: PrefectCredentials = new Map();
  try {
    prefect = prefectCredentialsFromEnv(
      env,
      sandbox?.prefect && { api: sandbox.prefect.api, auth: { authString: sandbox.prefect.authString } },
    );
  } catch (err) {
    problems.push((err as Error).message);
  }

  if (problems.length) throw new WorkerConfigError(problems);

  return {
    inventoryFile: inventoryFile!,
    inventory: inventory!,
    temporal: {
      ...(connection as Extract<typeof connection, { ok: true }>).settings,
      taskQueue: e.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    },
    kube,
    storeAdminEndpoint: e.ROTATOR_STORE_ADMIN_ENDPOINT,
    prefect,
    webUiUrl: e.ROTATOR_WEB_UI_URL ?? sandbox?.temporal.uiUrl,
    codec,
    logLevel: e.ROTATOR_LOG_LEVEL ?? 'info',
    shutdownGraceMs: parseDuration(e.ROTATOR_SHUTDOWN_GRACE ?? '30s')!,
    metricsAddress: e.ROTATOR_METRICS_ADDRESS ?? sandbox?.metrics?.address,
    metricsFromSandbox: !e.ROTATOR_METRICS_ADDRESS && Boolean(sandbox?.metrics?.address),
    metricsCacheTtlMs: e.ROTATOR_METRICS_CACHE_TTL
      ? parseDuration(e.ROTATOR_METRICS_CACHE_TTL)!
      : DEFAULT_METRICS_CACHE_TTL_MS,
    sandbox,
  };
}

/** What the worker logs at start-up: where it connects and how, never a secret. */
export function describeConfig(c: WorkerConfig): Record<string, unknown> {
  return {
    inventory: c.inventoryFile,
    zones: c.inventory.zones.map((z) => z.name),
    store: {
      kind: c.inventory.store.kind,
      adminEndpoint: c.storeAdminEndpoint ?? c.inventory.store.adminEndpoint,
    },
    temporal: {
      address: c.temporal.address,
      namespace: c.temporal.namespace,
      taskQueue: c.temporal.taskQueue,
      tls: !c.temporal.tls
        ? 'off'
        : c.temporal.tls !== true && c.temporal.tls.clientCertPair
          ? 'mTLS'
          : 'TLS',
      apiKey: c.temporal.apiKey ? 'set' : 'unset',
      from: c.temporal.source,
    },
    kube: c.kube.inCluster ? 'in-cluster ServiceAccount' : `kubeconfig ${c.kube.kubeconfig}`,
    prefect: c.prefect.size
      ? [...c.prefect].map(([api, a]) => `${api} (${a.apiKey ? 'API key' : 'basic auth'})`)
      : 'no credentials',
    webUiUrl: c.webUiUrl ?? 'unset (notifications carry no link to the run)',
    notifications: c.inventory.notifications.map((s) => `${s.name} (${s.format}: ${s.on.join(', ')})`),
    payloadCodec: c.codec
      ? `AES-256-GCM, encrypting with key id ${c.codec.keyIds[0]}${c.codec.keyIds.length > 1 ? `, also decrypting ${c.codec.keyIds.slice(1).join(', ')}` : ''}`
      : `off (${CODEC_DISABLED_ENV}=true; set ${CODEC_KEY_ENV} to encrypt payloads)`,
    shutdownGraceMs: c.shutdownGraceMs,
    metrics: c.metricsAddress ?? 'off (set ROTATOR_METRICS_ADDRESS)',
    sandbox: c.sandbox ? c.sandbox.dir : undefined,
  };
}
