// The inventory is the one place on-call edits by hand, so every rule here is written to
// produce a message that says what was expected (the loader adds file, line and path).
// Messages start with "expected ..." and the loader appends what it found.
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from './duration';
import { retriesSchema } from './retries';

// ---------------------------------------------------------------------------------------
// Bounds
//
// Every duration and size the inventory or a workflow input sets has an upper bound, so a typo
// ("3650d", a pasted file) or a crafted input cannot keep a previous key valid for years, hold
// a lock or a paused store for weeks, or grow a workflow history (the inventory is recorded in
// each run's history) past what the server accepts. The same bounds apply to the inventory and
// to the workflow inputs that override it (src/workflows/inputs.ts):
//   grace           at most 30d   (and never longer than maxGrace)
//   maxGrace        at most 30d   how long a previous zone key may stay valid after a switch
//   restartTimeout  at most 1h    how long RotateRoot waits for the store to come back
//   pauseTimeout    at most 24h   how long a paused RotateRoot waits before it rolls back
//   approvalTimeout at most 7d    how long RotateRoot waits for approval (input only)
//   zone names      at most 40 characters, a DNS label starting with a letter
//   parallelism     1 to 64 (input only)
// and in the inventory: at most 1000 zones, 100 consumers and 50 work pools per zone, 100
// buckets in each of readWrite and readOnly, 50 IAM statements, 20 notification sinks, 20
// client selectors per zone; region at most 63 characters, smoke.prefix 256, every URL 2048.
// A bound is refused with a message that states it, like
//   zones[0].maxGrace: expected at most 30d (how long a previous key may stay valid after the switch), got "3650d"

export const DURATION_BOUNDS = {
  grace: { max: '30d', what: 'the least time a previous key stays valid after the switch' },
  maxGrace: { max: '30d', what: 'how long a previous key may stay valid after the switch' },
  restartTimeout: { max: '1h', what: 'how long RotateRoot waits for the store to come back' },
  pauseTimeout: { max: '24h', what: 'how long a paused RotateRoot waits for an answer before it rolls back' },
  approvalTimeout: { max: '7d', what: 'how long RotateRoot waits for approval' },
} as const;
export type BoundedDuration = keyof typeof DURATION_BOUNDS;

/** "at most 30d (how long ...)": the bound of a duration, for messages. */
export const durationBoundHint = (name: BoundedDuration): string =>
  `at most ${DURATION_BOUNDS[name].max} (${DURATION_BOUNDS[name].what})`;

/** Whether a duration is within its bound; true for text that is no duration (reported on its own). */
export function withinDurationBound(name: BoundedDuration, text: string): boolean {
  const ms = parseDuration(text);
  return ms === undefined || ms <= parseDuration(DURATION_BOUNDS[name].max)!;
}

export const SIZE_BOUNDS = {
  zones: 1000,
  consumers: 100,
  workPools: 50,
  buckets: 100,
  statements: 50,
  notifications: 20,
  clientSelectors: 20,
  region: 63,
  smokePrefix: 256,
  url: 2048,
} as const;

const duration = (opts: { allowZero: boolean; bound: BoundedDuration }) =>
  z
    .string({ error: `expected ${DURATION_HINT}` })
    .refine(
      (text) => {
        const ms = parseDuration(text);
        return ms !== undefined && (opts.allowZero || ms > 0);
      },
      { error: `expected ${opts.allowZero ? '' : 'a non-zero '}${DURATION_HINT.replace(/^a /, '')}` },
    )
    .refine((text) => withinDurationBound(opts.bound, text), {
      error: `expected ${durationBoundHint(opts.bound)}`,
    });

/** A list of at most `max` items: "expected at most 100 consumers, got a list of 250". */
const boundedList = <T extends z.ZodType>(item: T, max: number, what: string, error: string) =>
  z.array(item, { error }).max(max, { error: `expected at most ${max} ${what}` });

const url = (hint: string) =>
  z
    .string({ error: `expected ${hint}` })
    .max(SIZE_BOUNDS.url, { error: `expected ${hint} of at most ${SIZE_BOUNDS.url} characters` });

// ---------------------------------------------------------------------------------------
// Leaf values

// RFC 1123 label: namespaces (and zone names, which end up inside object and workflow names).
const DNS_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// RFC 1123 subdomain: names of Secrets, Deployments, StatefulSets, DaemonSets.
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

const NAMESPACE_HINT =
  'a Kubernetes namespace (RFC 1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters)';
const OBJECT_NAME_HINT =
  'a Kubernetes object name (RFC 1123 subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253 characters)';

const namespaceName = z
  .string({ error: `expected ${NAMESPACE_HINT}` })
  .max(63, { error: `expected ${NAMESPACE_HINT}` })
  .regex(DNS_LABEL_RE, { error: `expected ${NAMESPACE_HINT}` });

// The rotator writes `<name>-pending` (and similar) next to each Secret it manages, so the
// name must leave room for that suffix inside Kubernetes' 253-character limit.
const SECRET_SUFFIX_ROOM = 16;
const objectName = (max = 253) =>
  z
    .string({ error: `expected ${OBJECT_NAME_HINT}` })
    .max(max, { error: `expected ${OBJECT_NAME_HINT} (at most ${max} characters here)` })
    .regex(DNS_SUBDOMAIN_RE, { error: `expected ${OBJECT_NAME_HINT}` });

// Zone names become parts of workflow IDs (`rotate-zone-<zone>`), canned policy names
// (`rotator-<zone>`) and Kubernetes labels, so they follow the strictest of those: a DNS label.
// Workflow inputs name zones by the same rule (src/workflows/inputs.ts).
export const MAX_ZONE_NAME = 40;
export const ZONE_NAME_HINT = `a zone name (lowercase letters, digits and "-", starting with a letter, ending with a letter or digit, at most ${MAX_ZONE_NAME} characters)`;
const ZONE_NAME_RE = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const isZoneName = (name: string): boolean => name.length <= MAX_ZONE_NAME && ZONE_NAME_RE.test(name);
const zoneName = z
  .string({ error: `expected ${ZONE_NAME_HINT}` })
  .max(MAX_ZONE_NAME, { error: `expected ${ZONE_NAME_HINT}` })
  .regex(ZONE_NAME_RE, { error: `expected ${ZONE_NAME_HINT}` });

/** The pending record the rotator writes next to a credential Secret (also its run lock). */
export const pendingSecretName = (name: string): string => `${name}-pending`;

// In-place rotation puts the user name into the Secret as `access-key` and it travels in the
// SigV4 Credential header, where "/", "," and "=" would break parsing.
const USER_HINT =
  'a RustFS user name (3-64 characters: letters, digits, ".", "_", "-", "@", "+", starting with a letter or digit)';
const userName = z
  .string({ error: `expected ${USER_HINT}` })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}$/, { error: `expected ${USER_HINT}` });

const BUCKET_HINT =
  'an S3 bucket name (3-63 characters: lowercase letters, digits, "." and "-", starting and ending with a letter or digit, not an IP address)';
export function isBucketName(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--')
  );
}
const bucketName = z
  .string({ error: `expected ${BUCKET_HINT}` })
  .refine(isBucketName, { error: `expected ${BUCKET_HINT}` });

const ENDPOINT_HINT =
  'an http(s) URL with host and optional port only, like "http://rustfs.ns.svc.cluster.local:9000" (no path, query or credentials)';
/** An http(s) URL with a host and no credentials in it, or undefined. */
function httpUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const ok =
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.hostname !== '' &&
    url.username === '' &&
    url.password === '';
  return ok ? url : undefined;
}
function isEndpoint(text: string): boolean {
  const url = httpUrl(text);
  // Credentials in the URL would be copied into every consumer's Secret and into logs.
  return url !== undefined && url.pathname === '/' && url.search === '' && url.hash === '';
}
const endpointUrl = url(ENDPOINT_HINT).refine(isEndpoint, { error: `expected ${ENDPOINT_HINT}` });

/** localhost, 127.0.0.0/8 or [::1]: traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(h) ||
    h === '[::1]' ||
    h === '::1'
  );
}

/**
 * Why an admin endpoint is refused: plain http:// to a host that is not loopback. The
 * admin calls carry every new secret key (the `rustfs` dialect as plain JSON) and SigV4
 * signatures; undefined when allowed (https, loopback, or store.allowInsecureAdmin: true).
 */
export function insecureAdminProblem(endpoint: string, allowInsecureAdmin: boolean): string | undefined {
  if (allowInsecureAdmin) return undefined;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return undefined; // reported by the URL check itself
  }
  if (url.protocol !== 'http:' || isLoopbackHost(url.hostname)) return undefined;
  return (
    `expected https:// for the store's admin API, got plain http:// to the non-loopback host ${url.host} (${endpoint}): ` +
    'the admin calls would carry new secret keys and signed requests in clear over the network. ' +
    'Use https://, or set store.allowInsecureAdmin: true if that path is private (e.g. an in-cluster Service behind a NetworkPolicy)'
  );
}

// ---------------------------------------------------------------------------------------
// References

const secretRef = z.strictObject(
  { namespace: namespaceName, name: objectName(253 - SECRET_SUFFIX_ROOM) },
  { error: 'expected a mapping {namespace, name} naming a Kubernetes Secret' },
);

export const CONSUMER_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const;
const consumerRef = z.strictObject(
  {
    kind: z.enum(CONSUMER_KINDS, { error: `expected one of ${CONSUMER_KINDS.join(', ')}` }),
    namespace: namespaceName,
    name: objectName(),
  },
  { error: 'expected a mapping {kind, namespace, name} naming a workload that reads the Secret' },
);

const workloadRef = z.strictObject(
  {
    kind: z.literal('StatefulSet', {
      error: 'expected StatefulSet (the rotator restarts the store with `rollout restart statefulset`)',
    }),
    namespace: namespaceName,
    name: objectName(),
  },
  { error: 'expected a mapping {kind: StatefulSet, namespace, name} naming the store workload' },
);

// Prefect work pools whose flow-run Jobs read the zone Secret. Only the API URL and the pool
// name live here: credentials for the Prefect API come from the worker's environment.
const PREFECT_API_HINT =
  'a Prefect API URL like "http://prefect-server.dashi-data.svc.cluster.local:4200/api" (http(s), no credentials, query or fragment)';
function isPrefectApi(text: string): boolean {
  const url = httpUrl(text);
  return url !== undefined && url.search === '' && url.hash === '';
}
// Prefect refuses "/", "%", "&", ">" and "<" in pool names; control characters are a typo.
const POOL_NAME_HINT =
  'a Prefect work pool name (1-100 characters, none of "/", "%", "&", ">", "<" or control characters)';
const poolName = z
  .string({ error: `expected ${POOL_NAME_HINT}` })
  .min(1, { error: `expected ${POOL_NAME_HINT}` })
  .max(100, { error: `expected ${POOL_NAME_HINT}` })
  .refine((n) => ![...n].some((c) => '/%&><'.includes(c) || c.charCodeAt(0) < 0x20), {
    error: `expected ${POOL_NAME_HINT}`,
  });
/** The form a Prefect API URL is kept and compared in (inventory, credentials): no trailing slash. */
export const canonicalPrefectApi = (api: string) => api.replace(/\/+$/, '');

const workPoolRef = z
  .strictObject(
    {
      api: url(PREFECT_API_HINT)
        .refine(isPrefectApi, { error: `expected ${PREFECT_API_HINT}` })
        .transform(canonicalPrefectApi),
      pool: poolName,
      // Plain http:// to a non-loopback Prefect API is refused unless this says so.
      allowInsecureApi: z
        .boolean({
          error: 'expected true or false (true allows plain http:// to a non-loopback Prefect API)',
        })
        .optional(),
    },
    { error: 'expected a mapping {api, pool} naming a Prefect work pool' },
  )
  .superRefine((ref, ctx) => {
    const api = httpUrl(ref.api);
    if (ref.allowInsecureApi || !api || api.protocol !== 'http:' || isLoopbackHost(api.hostname)) return;
    ctx.addIssue({
      code: 'custom',
      path: ['api'],
      message:
        `expected https:// for the Prefect API, got plain http:// to the non-loopback host ${api.host}: ` +
        "the worker's Prefect credential would cross the network in clear. Use https://, or set " +
        'allowInsecureApi: true on this work pool if that path is private (e.g. an in-cluster Service)',
    });
  });

// ---------------------------------------------------------------------------------------
// Policy

const actionOrResource = z.union(
  [
    z.string().min(1),
    z.array(z.string({ error: 'expected a string' }).min(1, { error: 'expected a non-empty string' })).min(1),
  ],
  { error: 'expected a string or a non-empty list of strings' },
);

/**
 * A raw IAM statement, for what bucket lists cannot say (prefix-scoped access,
 * conditions, explicit denies). Identity policies have no Principal, so it is rejected.
 */
const iamStatement = z
  .strictObject(
    {
      Sid: z
        .string()
        .regex(/^[A-Za-z0-9]*$/, { error: 'expected a Sid of letters and digits only' })
        .optional(),
      Effect: z.enum(['Allow', 'Deny'], { error: 'expected Effect "Allow" or "Deny"' }),
      Action: actionOrResource.optional(),
      NotAction: actionOrResource.optional(),
      Resource: actionOrResource.optional(),
      NotResource: actionOrResource.optional(),
      Condition: z
        .record(z.string(), z.record(z.string(), z.unknown()), {
          error: 'expected a Condition mapping {operator: {key: value}}',
        })
        .optional(),
    },
    { error: 'expected an IAM statement mapping {Effect, Action, Resource}' },
  )
  .superRefine((st, ctx) => {
    if ((st.Action === undefined) === (st.NotAction === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of Action or NotAction', path: [] });
    }
    if ((st.Resource === undefined) === (st.NotResource === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected exactly one of Resource or NotResource', path: [] });
    }
  });

const bucketList = boundedList(
  bucketName,
  SIZE_BOUNDS.buckets,
  'buckets (grant a prefix with statements instead)',
  'expected a list of bucket names',
);

const policySchema = z
  .strictObject(
    {
      readWrite: bucketList.default(() => []),
      readOnly: bucketList.default(() => []),
      statements: boundedList(
        iamStatement,
        SIZE_BOUNDS.statements,
        'IAM statements',
        'expected a list of IAM statements',
      ).default(() => []),
    },
    { error: 'expected a policy mapping with readWrite, readOnly and/or statements' },
  )
  .superRefine((policy, ctx) => {
    if (!policy.readWrite.length && !policy.readOnly.length && !policy.statements.length) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          'expected at least one bucket in readWrite or readOnly, or one statement (a zone with no access is a mistake)',
      });
    }
    const seen = new Map<string, string>();
    for (const list of ['readWrite', 'readOnly'] as const) {
      policy[list].forEach((bucket, i) => {
        const where = seen.get(bucket);
        if (where) {
          ctx.addIssue({
            code: 'custom',
            path: [list, i],
            message:
              where === list
                ? `bucket "${bucket}" is listed twice in ${list}`
                : `bucket "${bucket}" is in both readWrite and readOnly; expected it in one of them`,
          });
        } else {
          seen.set(bucket, list);
        }
      });
    }
  });

// ---------------------------------------------------------------------------------------
// Store, zones, inventory

export const STRATEGIES = ['overlap', 'in-place'] as const;
const strategy = z.enum(STRATEGIES, {
  error:
    'expected "overlap" (new service-account key, old one valid during grace) or "in-place" (seed behaviour: replace the user\'s secret)',
});
const consumers = z.union(
  [
    z.literal('auto'),
    boundedList(consumerRef, SIZE_BOUNDS.consumers, 'consumers', 'expected a list of consumers'),
  ],
  {
    error:
      'expected "auto" (discover workloads that reference the Secret) or a list of {kind, namespace, name} ([] for none)',
  },
);

// maxGrace bounds the wait for pods started before the switch: the inventory's promise that no
// consumer pod runs longer than this, so one still holding the previous key then is stuck.
export const ZONE_DEFAULTS = {
  strategy: 'overlap',
  grace: '10m',
  maxGrace: '24h',
  consumers: 'auto',
} as const;
export const STORE_DEFAULTS = { region: 'us-east-1', restartTimeout: '2m', pauseTimeout: '30m' } as const;

/** How RotateRoot restarts the store's pods onto a new root (src/workflows/root-restart.ts). */
export const ROOT_STRATEGIES = ['rolling', 'all-at-once'] as const;

const NODE_ENDPOINTS_HINT =
  'a URL template with {pod} (e.g. "http://{pod}.rustfs-headless.storage.svc:9000"), or a mapping of each store pod\'s name to its URL';
/**
 * Each store pod's own endpoint: a template naming the pod (a StatefulSet's headless Service
 * gives every pod a DNS name), or a URL per pod (the sandbox, whose pods are loopback ports).
 */
const nodeEndpoints = z.union(
  [
    z.string().refine((t) => t.includes('{pod}') && isEndpoint(t.replaceAll('{pod}', 'pod-0')), {
      error: `expected ${NODE_ENDPOINTS_HINT}`,
    }),
    z.record(objectName(), endpointUrl),
  ],
  { error: `expected ${NODE_ENDPOINTS_HINT}` },
);

/** The endpoint of store pod `pod`, or undefined when the inventory names none. */
export function nodeEndpointOf(
  store: { nodeEndpoints?: string | Record<string, string> },
  pod: string,
): string | undefined {
  const n = store.nodeEndpoints;
  if (n === undefined) return undefined;
  return typeof n === 'string' ? n.replaceAll('{pod}', pod) : n[pod];
}

const storeSchema = z
  .strictObject(
    {
      kind: z.enum(['rustfs', 'minio'], { error: 'expected "rustfs" or "minio"' }),
      endpoint: endpointUrl,
      adminEndpoint: endpointUrl.optional(),
      adminApi: z
        .enum(['auto', 'madmin', 'rustfs'], {
          error:
            'expected "auto" (the API the store serves, detected), "madmin" (/minio/admin/v3, MinIO and RustFS >= 1.0.0-alpha.87) or "rustfs" (/rustfs/admin/v3)',
        })
        .default('auto'),
      region: z
        .string({ error: 'expected a region name like "us-east-1"' })
        .min(1, { error: 'expected a region name like "us-east-1"' })
        .max(SIZE_BOUNDS.region, {
          error: `expected a region name of at most ${SIZE_BOUNDS.region} characters`,
        })
        .default(STORE_DEFAULTS.region),
      rootSecret: secretRef,
      workload: workloadRef,
      restartTimeout: duration({ allowZero: false, bound: 'restartTimeout' }).default(
        STORE_DEFAULTS.restartTimeout,
      ),
      pauseTimeout: duration({ allowZero: false, bound: 'pauseTimeout' }).default(
        STORE_DEFAULTS.pauseTimeout,
      ),
      // Where each store pod's own API answers (RotateRoot's rolling strategy calls the node it
      // just restarted, and checks every node, not whichever the Service picks).
      nodeEndpoints: nodeEndpoints.optional(),
      rootStrategy: z
        .enum(ROOT_STRATEGIES, {
          error:
            'expected "rolling" (one store pod at a time) or "all-at-once" (every store pod restarted together)',
        })
        .optional(),
      // Plain http:// admin calls to a non-loopback host are refused unless this says so.
      allowInsecureAdmin: z
        .boolean({
          error: 'expected true or false (true allows plain http:// admin calls to a non-loopback store)',
        })
        .default(false),
    },
    { error: 'expected a store mapping {kind, endpoint, rootSecret, workload, ...}' },
  )
  .superRefine((store, ctx) => {
    // Pods can only read Secrets of their own namespace, so a mismatch means the store
    // would never see the root credential the rotator writes.
    if (store.rootSecret.namespace !== store.workload.namespace) {
      ctx.addIssue({
        code: 'custom',
        path: ['workload', 'namespace'],
        message: `expected the store workload in the root Secret's namespace "${store.rootSecret.namespace}" (pods can only read Secrets of their own namespace)`,
      });
    }
    // Every admin dialect (rustfs, madmin, auto): the worker's admin calls go to
    // adminEndpoint, else endpoint; the problem is reported where that URL is written.
    const admin = store.adminEndpoint ?? store.endpoint;
    const insecure = insecureAdminProblem(admin, store.allowInsecureAdmin);
    if (insecure) {
      ctx.addIssue({
        code: 'custom',
        path: [store.adminEndpoint ? 'adminEndpoint' : 'endpoint'],
        message: insecure,
      });
    }
    // The rolling strategy signs admin calls with the root to each node: the same rule.
    const nodes = store.nodeEndpoints;
    const nodeUrls =
      nodes === undefined
        ? []
        : typeof nodes === 'string'
          ? [nodes.replaceAll('{pod}', 'pod-0')]
          : Object.values(nodes);
    for (const url of nodeUrls) {
      const problem = insecureAdminProblem(url, store.allowInsecureAdmin);
      if (problem) {
        ctx.addIssue({ code: 'custom', path: ['nodeEndpoints'], message: problem });
        break;
      }
    }
  })
  .transform((s) => ({
    kind: s.kind,
    endpoint: s.endpoint,
    adminEndpoint: s.adminEndpoint ?? s.endpoint,
    adminApi: s.adminApi,
    region: s.region,
    rootSecret: s.rootSecret,
    workload: s.workload,
    restartTimeout: s.restartTimeout,
    restartTimeoutMs: mustParseDuration(s.restartTimeout),
    pauseTimeout: s.pauseTimeout,
    pauseTimeoutMs: mustParseDuration(s.pauseTimeout),
    // Only when set: an inventory without it serialises (and is recorded in runs) as before.
    ...(s.allowInsecureAdmin ? { allowInsecureAdmin: true as const } : {}),
    ...(s.nodeEndpoints !== undefined ? { nodeEndpoints: s.nodeEndpoints } : {}),
    ...(s.rootStrategy ? { rootStrategy: s.rootStrategy } : {}),
  }));

const zoneSchema = z
  .strictObject(
    {
      name: zoneName,
      user: userName,
      policy: policySchema,
      secret: secretRef,
      consumers: consumers.optional(),
      strategy: strategy.optional(),
      grace: duration({ allowZero: true, bound: 'grace' }).optional(),
      maxGrace: duration({ allowZero: false, bound: 'maxGrace' }).optional(),
      workPools: boundedList(
        workPoolRef,
        SIZE_BOUNDS.workPools,
        'work pools',
        'expected a list of {api, pool} Prefect work pools',
      ).default(() => []),
    },
    { error: 'expected a zone mapping {name, user, policy, secret, ...}' },
  )
  .superRefine((zone, ctx) => {
    const pools = new Set<string>();
    zone.workPools.forEach((p, i) => {
      const id = `${p.api} ${p.pool}`;
      if (pools.has(id))
        ctx.addIssue({
          code: 'custom',
          path: ['workPools', i],
          message: `work pool "${p.pool}" at ${p.api} is listed twice`,
        });
      pools.add(id);
    });
    if (!Array.isArray(zone.consumers)) return;
    const seen = new Set<string>();
    zone.consumers.forEach((c, i) => {
      // A workload can only reference Secrets of its own namespace; a different namespace
      // is a typo that would make the rotator restart something that never sees the key.
      if (c.namespace !== zone.secret.namespace) {
        ctx.addIssue({
          code: 'custom',
          path: ['consumers', i, 'namespace'],
          message: `expected the Secret's namespace "${zone.secret.namespace}" (pods can only read Secrets of their own namespace), got "${c.namespace}"`,
        });
      }
      const id = `${c.kind}/${c.namespace}/${c.name}`;
      if (seen.has(id)) {
        ctx.addIssue({ code: 'custom', path: ['consumers', i], message: `consumer ${id} is listed twice` });
      }
      seen.add(id);
    });
  });

const defaultsSchema = z.strictObject(
  {
    consumers: consumers.optional(),
    strategy: strategy.optional(),
    grace: duration({ allowZero: true, bound: 'grace' }).optional(),
    maxGrace: duration({ allowZero: false, bound: 'maxGrace' }).optional(),
  },
  { error: 'expected a defaults mapping with any of consumers, strategy, grace, maxGrace' },
);

/** The smoke's bucket outside every zone and the key prefix it writes under, unless the inventory says otherwise. */
export const SMOKE_DEFAULTS = { outsideBucket: 'rotator-smoke-outside', prefix: 'rotator-smoke/' } as const;

const SMOKE_PREFIX_HINT = 'an object key prefix ending in "/", like "rotator-smoke/"';
const smokeSchema = z.strictObject(
  {
    outsideBucket: bucketName.default(SMOKE_DEFAULTS.outsideBucket),
    prefix: z
      .string({ error: `expected ${SMOKE_PREFIX_HINT}` })
      .max(SIZE_BOUNDS.smokePrefix, {
        error: `expected ${SMOKE_PREFIX_HINT} of at most ${SIZE_BOUNDS.smokePrefix} characters`,
      })
      .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*\/$/, { error: `expected ${SMOKE_PREFIX_HINT}` })
      .default(SMOKE_DEFAULTS.prefix),
  },
  { error: 'expected a smoke mapping with outsideBucket and/or prefix' },
);

// ---------------------------------------------------------------------------------------
// NetworkPolicies

// Label keys and values as Kubernetes accepts them: an optional DNS-subdomain prefix and "/",
// a name of up to 63 characters; values up to 63 characters, possibly empty.
const LABEL_KEY_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const LABELS_HINT =
  'a mapping of pod labels {key: value} (keys like "app" or "example.com/app", values of at most 63 letters, digits, "-", "_", ".")';
const podLabels = z
  .record(z.string(), z.string({ error: `expected ${LABELS_HINT}` }), { error: `expected ${LABELS_HINT}` })
  .refine((m) => Object.keys(m).length > 0, { error: `expected ${LABELS_HINT} with at least one label` })
  .refine((m) => Object.entries(m).every(([k, v]) => LABEL_KEY_RE.test(k) && LABEL_VALUE_RE.test(v)), {
    error: `expected ${LABELS_HINT}`,
  });

/** The label a pod carries to be admitted to the store as a client of its zone. */
export const ZONE_CLIENT_LABEL = 'rotator.dev/zone';
export const NETPOL_DEFAULTS = {
  port: 9000,
  storePods: { app: 'rustfs' },
  worker: { namespace: 'rustfs-rotator', podLabels: { app: 'rustfs-rotator' } },
} as const;

const podPeer = z.strictObject(
  { namespace: namespaceName.optional(), podLabels },
  { error: 'expected a mapping {podLabels, namespace?} selecting pods' },
);

const networkPoliciesSchema = z.strictObject(
  {
    apply: z
      .boolean({ error: 'expected true (BootstrapCluster applies the policies) or false' })
      .default(false),
    port: z
      .number({ error: 'expected the port the store pods listen on (a number, 1-65535)' })
      .int({ error: 'expected the port the store pods listen on (a number, 1-65535)' })
      .min(1, { error: 'expected the port the store pods listen on (a number, 1-65535)' })
      .max(65535, { error: 'expected the port the store pods listen on (a number, 1-65535)' })
      .default(NETPOL_DEFAULTS.port),
    storePods: podLabels.default(() => ({ ...NETPOL_DEFAULTS.storePods })),
    worker: z
      .strictObject(
        { namespace: namespaceName, podLabels },
        { error: 'expected a mapping {namespace, podLabels} selecting the worker pods' },
      )
      .default(() => ({
        namespace: NETPOL_DEFAULTS.worker.namespace,
        podLabels: { ...NETPOL_DEFAULTS.worker.podLabels },
      })),
    clients: z
      .record(
        zoneName,
        boundedList(
          podPeer,
          SIZE_BOUNDS.clientSelectors,
          'pod selectors',
          'expected a list of {podLabels, namespace?}',
        ),
        {
          error: 'expected a mapping {<zone>: [{podLabels, namespace?}]}',
        },
      )
      .default(() => ({})),
  },
  { error: 'expected a networkPolicies mapping with any of apply, port, storePods, worker, clients' },
);

// ---------------------------------------------------------------------------------------
// Approvals (docs/design.md "Who may decide")

/**
 * Who authenticates the decisions a run waits for (approve, resume, rollback, revoke-now):
 * `kubernetes` (a RotationDecision object the apiserver admitted for the identity it
 * authenticated, checked against an RBAC verb), or `any-temporal-client` (whoever may send an
 * update in the Temporal namespace; the name in `by` is only claimed, and recorded as such).
 */
export const APPROVAL_AUTHORITIES = ['kubernetes', 'any-temporal-client'] as const;
export type ApprovalAuthority = (typeof APPROVAL_AUTHORITIES)[number];
export const APPROVALS_DEFAULTS = {
  authority: 'kubernetes',
  namespace: 'rustfs-rotator',
  allowSelfApproval: false,
  allowInputApproval: false,
} as const;

const approvalsSchema = z.strictObject(
  {
    authority: z
      .enum(APPROVAL_AUTHORITIES, { error: 'expected "kubernetes" or "any-temporal-client"' })
      .default(APPROVALS_DEFAULTS.authority),
    namespace: namespaceName.default(APPROVALS_DEFAULTS.namespace),
    allowSelfApproval: z
      .boolean({ error: 'expected true (the starter of a RotateRoot may approve it) or false' })
      .default(APPROVALS_DEFAULTS.allowSelfApproval),
    allowInputApproval: z
      .boolean({ error: 'expected true (approve: true in the input, and pre-approved schedules) or false' })
      .default(APPROVALS_DEFAULTS.allowInputApproval),
  },
  {
    error:
      'expected an approvals mapping with any of authority, namespace, allowSelfApproval, allowInputApproval',
  },
);

// ---------------------------------------------------------------------------------------
// Notifications

/** What a sink can be told about; `completed` only when its `on` asks for it. */
export const NOTIFY_KINDS = [
  'awaiting-approval',
  'paused',
  'failed',
  'rolled-back',
  'canceled',
  'escalated',
  'completed',
] as const;
export const NOTIFY_DEFAULT_ON = NOTIFY_KINDS.filter((k) => k !== 'completed');
export const SINK_FORMATS = ['json', 'slack'] as const;

const ENV_NAME_HINT = 'an environment variable name like "ROTATOR_SLACK_WEBHOOK" (letters, digits, "_")';
const SINK_URL_HINT =
  'an http(s) URL (a webhook URL is often a credential: prefer urlFrom: {env: NAME}, which keeps it out of the inventory and of every workflow history)';

/** A webhook URL; never echoed in an error, since it may carry a token. */
export function isWebhookUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

const sinkSchema = z
  .strictObject(
    {
      name: zoneName,
      format: z
        .enum(SINK_FORMATS, {
          error:
            'expected "json" (the notification as a JSON object) or "slack" (Slack-compatible incoming webhook: {text, blocks})',
        })
        .default('json'),
      url: z.string({ error: `expected ${SINK_URL_HINT}` }).optional(),
      urlFrom: z
        .strictObject(
          {
            env: z
              .string({ error: `expected ${ENV_NAME_HINT}` })
              .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: `expected ${ENV_NAME_HINT}` }),
          },
          { error: 'expected a mapping {env: NAME}: the worker reads the URL from that variable' },
        )
        .optional(),
      on: z
        .array(z.enum(NOTIFY_KINDS, { error: `expected one of ${NOTIFY_KINDS.join(', ')}` }), {
          error: 'expected a list of notification kinds',
        })
        .min(1, { error: 'expected at least one notification kind (remove the sink to send none)' })
        .optional(),
    },
    { error: 'expected a sink mapping {name, url or urlFrom, format, on}' },
  )
  // Checked on the mapping, not the string: the loader appends a failing string's value,
  // and a webhook URL must not reach an error message or a log.
  .superRefine((sink, ctx) => {
    if ((sink.url === undefined) === (sink.urlFrom === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'expected exactly one of url or urlFrom: {env: NAME}',
      });
    }
    if (sink.url !== undefined && sink.url.length > SIZE_BOUNDS.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: `expected a URL of at most ${SIZE_BOUNDS.url} characters (value not shown)`,
      });
    } else if (sink.url !== undefined && !isWebhookUrl(sink.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: `expected ${SINK_URL_HINT} (value not shown)` });
    }
  })
  .transform((s) => ({
    name: s.name,
    format: s.format,
    target: s.urlFrom ? { env: s.urlFrom.env } : { url: s.url! },
    on: s.on ? [...new Set(s.on)] : [...NOTIFY_DEFAULT_ON],
  }));

export const inventorySchema = z
  .strictObject(
    {
      store: storeSchema,
      defaults: defaultsSchema.optional(),
      smoke: smokeSchema.default(() => ({ ...SMOKE_DEFAULTS })),
      notifications: boundedList(
        sinkSchema,
        SIZE_BOUNDS.notifications,
        'notification sinks',
        'expected a list of notification sinks',
      ).default(() => []),
      networkPolicies: networkPoliciesSchema.optional(),
      retries: retriesSchema.optional(),
      approvals: approvalsSchema.default(() => ({ ...APPROVALS_DEFAULTS })),
      zones: boundedList(zoneSchema, SIZE_BOUNDS.zones, 'zones', 'expected a list of zones').min(1, {
        error: 'expected at least one zone',
      }),
    },
    { error: 'expected a mapping with store and zones' },
  )
  .superRefine((inv, ctx) => {
    const firstIndex = (key: string, seen: Map<string, number>, i: number): number | undefined => {
      const prev = seen.get(key);
      if (prev === undefined) seen.set(key, i);
      return prev;
    };
    const names = new Map<string, number>();
    const users = new Map<string, number>();
    const secrets = new Map<string, number>();
    const pools = new Map<string, number>();
    const sinks = new Map<string, number>();
    inv.notifications.forEach((sink, i) => {
      const dup = firstIndex(sink.name, sinks, i);
      if (dup !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['notifications', i, 'name'],
          message: `expected a unique sink name, but "${sink.name}" is also notifications[${dup}].name`,
        });
      }
    });
    const zoneNames = new Set(inv.zones.map((z) => z.name));
    for (const zone of Object.keys(inv.networkPolicies?.clients ?? {}))
      if (!zoneNames.has(zone))
        ctx.addIssue({
          code: 'custom',
          path: ['networkPolicies', 'clients', zone],
          message: `expected a zone of this inventory (${[...zoneNames].join(', ')}), but there is no zone "${zone}"`,
        });
    const rootSecret = `${inv.store.rootSecret.namespace}/${inv.store.rootSecret.name}`;
    secretCollisions(inv, ctx);
    inv.zones.forEach((zone, i) => {
      const dupName = firstIndex(zone.name, names, i);
      if (dupName !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['zones', i, 'name'],
          message: `expected a unique zone name, but "${zone.name}" is also zones[${dupName}].name`,
        });
      }
      const dupUser = firstIndex(zone.user, users, i);
      if (dupUser !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['zones', i, 'user'],
          message: `expected a unique user, but "${zone.user}" is also zones[${dupUser}].user (one identity per zone keeps rotations independent)`,
        });
      }
      const secret = `${zone.secret.namespace}/${zone.secret.name}`;
      if (secret === rootSecret) {
        ctx.addIssue({
          code: 'custom',
          path: ['zones', i, 'secret'],
          message: `expected a Secret other than the root Secret ${rootSecret}, but zone "${zone.name}" and the root credential (store.rootSecret) both name it (the root credential must never reach application pods)`,
        });
      }
      const dupSecret = firstIndex(secret, secrets, i);
      if (dupSecret !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['zones', i, 'secret'],
          message: `expected a unique Secret, but ${secret} of zone "${zone.name}" is also zones[${dupSecret}].secret of zone "${inv.zones[dupSecret]!.name}" (two zones would overwrite each other's key)`,
        });
      }
      zone.workPools.forEach((p, j) => {
        const other = pools.get(`${p.api} ${p.pool}`);
        if (other !== undefined && other !== i)
          ctx.addIssue({
            code: 'custom',
            path: ['zones', i, 'workPools', j],
            message: `expected a work pool in one zone only, but "${p.pool}" at ${p.api} is also in zones[${other}].workPools (both would inject their Secret under the same names)`,
          });
        else pools.set(`${p.api} ${p.pool}`, i);
      });
      const grace = zone.grace ?? inv.defaults?.grace ?? ZONE_DEFAULTS.grace;
      const maxGrace = zone.maxGrace ?? inv.defaults?.maxGrace ?? ZONE_DEFAULTS.maxGrace;
      // Either may be invalid here (reported on its own): compare only real durations.
      const [graceMs, maxGraceMs] = [parseDuration(grace), parseDuration(maxGrace)];
      if (graceMs !== undefined && maxGraceMs !== undefined && maxGraceMs < graceMs) {
        ctx.addIssue({
          code: 'custom',
          path: zone.maxGrace
            ? ['zones', i, 'maxGrace']
            : inv.defaults?.maxGrace
              ? ['defaults', 'maxGrace']
              : zone.grace
                ? ['zones', i, 'grace']
                : ['defaults', 'grace'],
          message: `expected maxGrace (${maxGrace}) at least as long as grace (${grace}) for zone "${zone.name}": maxGrace bounds the whole wait`,
        });
      }
      for (const list of ['readWrite', 'readOnly'] as const) {
        zone.policy[list].forEach((bucket, j) => {
          // The smoke proves "access outside the policy is denied" against this bucket.
          if (bucket === inv.smoke.outsideBucket) {
            ctx.addIssue({
              code: 'custom',
              path: ['zones', i, 'policy', list, j],
              message: `expected a bucket other than "${bucket}", which smoke.outsideBucket reserves for checking that access outside the policy is denied`,
            });
          }
        });
      }
    });
  })
  .transform((inv) => {
    const d = inv.defaults ?? {};
    const zones = inv.zones.map((zone) => {
      const grace = zone.grace ?? d.grace ?? ZONE_DEFAULTS.grace;
      const maxGrace = zone.maxGrace ?? d.maxGrace ?? ZONE_DEFAULTS.maxGrace;
      return {
        name: zone.name,
        user: zone.user,
        policy: zone.policy,
        secret: zone.secret,
        consumers: zone.consumers ?? d.consumers ?? ZONE_DEFAULTS.consumers,
        strategy: zone.strategy ?? d.strategy ?? ZONE_DEFAULTS.strategy,
        grace,
        graceMs: mustParseDuration(grace),
        maxGrace,
        maxGraceMs: mustParseDuration(maxGrace),
        workPools: zone.workPools,
      };
    });
    const buckets = [...new Set(zones.flatMap((z) => [...z.policy.readWrite, ...z.policy.readOnly]))].sort();
    return {
      store: inv.store,
      smoke: inv.smoke,
      notifications: inv.notifications,
      networkPolicies: inv.networkPolicies,
      // Only when set: an inventory without it is recorded in runs as before.
      ...(inv.retries ? { retries: inv.retries } : {}),
      approvals: inv.approvals,
      zones,
      buckets,
    };
  });

type InventoryDraft = {
  store: { rootSecret: { namespace: string; name: string } };
  zones: ReadonlyArray<{ name: string; secret: { namespace: string; name: string } }>;
};

/**
 * A Secret the rotator writes for one identity must not be another identity's: the pending
 * record of a zone (or of the root) is `<its Secret>-pending` in the Secret's namespace, so a
 * Secret named like that would be overwritten by the other identity's next rotation and then
 * deleted by its clean-up. Both identities are named, at the Secret that takes the other's name.
 */
function secretCollisions(inv: InventoryDraft, ctx: z.RefinementCtx): void {
  const identities = [
    {
      who: 'the root credential (store.rootSecret)',
      path: ['store', 'rootSecret'],
      ref: inv.store.rootSecret,
    },
    ...inv.zones.map((zone, i) => ({
      who: `zone "${zone.name}"`,
      path: ['zones', i, 'secret'],
      ref: zone.secret,
    })),
  ];
  const pendingOf = new Map<string, (typeof identities)[number]>();
  for (const id of identities) pendingOf.set(`${id.ref.namespace}/${pendingSecretName(id.ref.name)}`, id);
  for (const id of identities) {
    const secret = `${id.ref.namespace}/${id.ref.name}`;
    const owner = pendingOf.get(secret);
    if (!owner || owner === id) continue;
    ctx.addIssue({
      code: 'custom',
      path: id.path,
      message:
        `expected a Secret that is no other identity's pending record, but ${secret} of ${id.who} is the pending record of ${owner.who} ` +
        `(${owner.ref.namespace}/${owner.ref.name} + "-pending"): each rotation of ${owner.who} would overwrite it, then delete it`,
    });
  }
}

function mustParseDuration(text: string): number {
  const ms = parseDuration(text);
  // Unreachable after validation; a throw beats silently scheduling a 0 ms timer.
  if (ms === undefined) throw new Error(`invalid duration "${text}"`);
  return ms;
}

/** What the YAML may contain (defaults optional). */
export type InventoryInput = z.input<typeof inventorySchema>;
/** The validated inventory: defaults applied, durations also in milliseconds, `buckets` derived. */
export type Inventory = z.output<typeof inventorySchema>;
export type Store = Inventory['store'];
export type SmokeSettings = Inventory['smoke'];
export type Zone = Inventory['zones'][number];
export type ZonePolicy = Zone['policy'];
export type IamStatement = ZonePolicy['statements'][number];
export type SecretRef = Zone['secret'];
export type WorkPoolRef = Zone['workPools'][number];
export type ConsumerRef = Exclude<Zone['consumers'], 'auto'>[number];
export type ConsumerKind = ConsumerRef['kind'];
export type WorkloadRef = Store['workload'];
export type Strategy = Zone['strategy'];
export type StoreKind = Store['kind'];
export type AdminApi = Store['adminApi'];
export type NotificationSink = Inventory['notifications'][number];
export type NotifyKind = (typeof NOTIFY_KINDS)[number];
export type NetworkPolicySettings = NonNullable<Inventory['networkPolicies']>;
export type PodPeer = NetworkPolicySettings['clients'][string][number];
