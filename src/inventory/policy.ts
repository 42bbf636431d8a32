// Compiles a zone's bucket lists into the IAM policy the store enforces, and into the
// smoke matrix that proves the store enforces exactly that.
//
// Pure: no Node APIs and only type imports, so workflows can import it to build plans
// and smoke expectations deterministically from the inventory they were given.
import { SMOKE_DEFAULTS, type IamStatement, type Inventory, type SmokeSettings, type Zone } from './schema';

export const POLICY_VERSION = '2012-10-17';
/** Canned policies the rotator owns are recognisable by this prefix (and safe to update). */
export const POLICY_NAME_PREFIX = 'rotator-';

// Multipart operations are listed because large uploads (GeoTIFFs, parquet) go multipart
// and a policy without them fails only on big objects, long after a smoke passed.
export const READ_WRITE_BUCKET_ACTIONS = [
  's3:GetBucketLocation',
  's3:ListBucket',
  's3:ListBucketMultipartUploads',
];
export const READ_WRITE_OBJECT_ACTIONS = [
  's3:AbortMultipartUpload',
  's3:DeleteObject',
  's3:GetObject',
  's3:ListMultipartUploadParts',
  's3:PutObject',
];
// GetBucketLocation is harmless and many S3 clients call it before the first read.
export const READ_ONLY_BUCKET_ACTIONS = ['s3:GetBucketLocation', 's3:ListBucket'];
export const READ_ONLY_OBJECT_ACTIONS = ['s3:GetObject'];

export type PolicyStatement = IamStatement;
export interface PolicyDocument {
  Version: typeof POLICY_VERSION;
  Statement: PolicyStatement[];
}

type PolicyOf = Pick<Zone, 'policy'>;

/** The canned policy name of a zone; deterministic so re-runs update instead of duplicating. */
export function policyName(zone: Pick<Zone, 'name'> | string): string {
  return `${POLICY_NAME_PREFIX}${typeof zone === 'string' ? zone : zone.name}`;
}

export const bucketArn = (bucket: string): string => `arn:aws:s3:::${bucket}`;
export const objectArn = (bucket: string, key = '*'): string => `arn:aws:s3:::${bucket}/${key}`;

/**
 * The zone's IAM policy. Buckets are sorted so reordering the YAML does not change the
 * document (ensure-policy compares documents to decide whether to update).
 */
export function compilePolicy(zone: PolicyOf): PolicyDocument {
  const statements: PolicyStatement[] = [];
  const rw = [...zone.policy.readWrite].sort();
  const ro = [...zone.policy.readOnly].sort();
  if (rw.length) {
    statements.push(
      {
        Sid: 'RotatorReadWriteBuckets',
        Effect: 'Allow',
        Action: READ_WRITE_BUCKET_ACTIONS,
        Resource: rw.map(bucketArn),
      },
      {
        Sid: 'RotatorReadWriteObjects',
        Effect: 'Allow',
        Action: READ_WRITE_OBJECT_ACTIONS,
        Resource: rw.map((b) => objectArn(b)),
      },
    );
  }
  if (ro.length) {
    statements.push(
      {
        Sid: 'RotatorReadOnlyBuckets',
        Effect: 'Allow',
        Action: READ_ONLY_BUCKET_ACTIONS,
        Resource: ro.map(bucketArn),
      },
      {
        Sid: 'RotatorReadOnlyObjects',
        Effect: 'Allow',
        Action: READ_ONLY_OBJECT_ACTIONS,
        Resource: ro.map((b) => objectArn(b)),
      },
    );
  }
  statements.push(...zone.policy.statements);
  // A deep copy: callers may mutate the document without touching the shared action
  // lists or the inventory's raw statements.
  return { Version: POLICY_VERSION, Statement: JSON.parse(JSON.stringify(statements)) as PolicyStatement[] };
}

/** The body for add-canned-policy (raw policy JSON, never encrypted). */
export function compilePolicyJson(zone: PolicyOf): string {
  return JSON.stringify(compilePolicy(zone));
}

// ---------------------------------------------------------------------------------------
// Policy evaluation, just enough to predict the smoke matrix

export type Verdict = 'allow' | 'deny' | 'unknown';
type Match = 'yes' | 'no' | 'maybe';

/**
 * What the store should answer for `action` on `resource` under `doc`, by IAM rules:
 * an explicit Deny wins, then any Allow, else implicit deny. Conditions and policy
 * variables cannot be judged offline: they make the answer 'unknown' rather than a guess.
 */
export function evaluatePolicy(doc: PolicyDocument, action: string, resource: string): Verdict {
  let allow: Match = 'no';
  let denyMaybe = false;
  for (const st of doc.Statement) {
    const m = statementMatches(st, action, resource);
    if (m === 'no') continue;
    if (st.Effect === 'Deny') {
      if (m === 'yes') return 'deny';
      denyMaybe = true;
    } else if (m === 'yes') {
      allow = 'yes';
    } else if (allow === 'no') {
      allow = 'maybe';
    }
  }
  if (allow === 'no') return 'deny';
  if (denyMaybe) return 'unknown';
  return allow === 'yes' ? 'allow' : 'unknown';
}

function statementMatches(st: PolicyStatement, action: string, resource: string): Match {
  const actionHit = st.Action
    ? list(st.Action).some((p) => glob(p, action, true))
    : !list(st.NotAction).some((p) => glob(p, action, true));
  if (!actionHit) return 'no';

  // A policy variable (${aws:username}) is resolved per request; treated as "*" it tells
  // whether the pattern could match at all, and then the answer is only 'maybe'.
  const patterns = list(st.Resource ?? st.NotResource);
  const exact = patterns.some((p) => glob(p, resource, false));
  const loose = exact || patterns.some((p) => glob(p.replace(/\$\{[^}]*\}/g, '*'), resource, false));
  const inList: Match = exact ? 'yes' : loose ? 'maybe' : 'no';
  const resourceMatch: Match = st.Resource
    ? inList
    : inList === 'yes'
      ? 'no'
      : inList === 'maybe'
        ? 'maybe'
        : 'yes';
  if (resourceMatch === 'no') return 'no';
  if (st.Condition && Object.keys(st.Condition).length) return 'maybe';
  return resourceMatch;
}

function list(v: string | string[] | undefined): string[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

// IAM wildcards: "*" spans any characters including "/", "?" is one character.
// Actions compare case-insensitively, resources (bucket and key names) exactly.
function glob(pattern: string, value: string, ignoreCase: boolean): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, ignoreCase ? 'i' : '').test(value);
}

// ---------------------------------------------------------------------------------------
// Smoke = policy conformance (docs/design.md "Smoke: policy conformance")
//
// A smoke passes only when every cell matches; "it authenticated" proves nothing about
// the policy. Semantics the smoke runner must follow:
// - Cells run in array order, with the zone credential under test. Order matters: in a
//   readWrite bucket the zone's own canary is put, then read, listed and deleted.
// - Before the cells, the runner writes every `rootCanaries` object with the ROOT
//   credential, so read-only `get` has something to read (a zone that may not write
//   cannot create its own canary).
// - expect 'allow': the request must succeed (2xx).
//   expect 'deny': the request must fail with AccessDenied (HTTP 403). Any other failure
//   (InvalidAccessKeyId, SignatureDoesNotMatch, NoSuchBucket, NoSuchKey, network) is a
//   smoke error, not a match: it says nothing about the policy.
// - `list` is ListObjectsV2 on the bucket restricted to the smoke prefix; `put`, `get`,
//   `delete` act on `key`.
// - If a 'deny' put succeeds anyway, the runner removes that object with root, so a
//   broken policy leaves no stray data behind.
// - Buckets reachable only through raw `statements` are not probed (their scope may be a
//   prefix or a condition); raw statements do change the expectations of the probed cells,
//   and cells whose answer depends on a Condition are left out and listed in `notCovered`.

export type SmokeOperation = 'put' | 'get' | 'delete' | 'list';
export type SmokeExpect = 'allow' | 'deny';
/** Why a bucket is probed: the zone may write it, may only read it, or has no business there. */
export type SmokeScope = 'readWrite' | 'readOnly' | 'outside';

export interface SmokeCell {
  bucket: string;
  operation: SmokeOperation;
  expect: SmokeExpect;
  scope: SmokeScope;
  /** Object key for put/get/delete; absent for list. */
  key?: string;
}

export interface SmokePlan {
  zone: string;
  user: string;
  policyName: string;
  /** Objects to write with the root credential before running the cells. */
  rootCanaries: Array<{ bucket: string; key: string }>;
  cells: SmokeCell[];
  /** Probes left out because the policy's answer depends on a Condition or variable. */
  notCovered: Array<Omit<SmokeCell, 'expect'> & { reason: string }>;
}

export interface CanaryKeys {
  /** Written and deleted by the zone itself where it may write. */
  zone: string;
  /** Written by root where the zone may only read. */
  root: string;
}

export function canaryKeys(zone: Pick<Zone, 'name'>, smoke: SmokeSettings = SMOKE_DEFAULTS): CanaryKeys {
  return { zone: `${smoke.prefix}${zone.name}`, root: `${smoke.prefix}root-canary` };
}

const ACTION_OF: Record<SmokeOperation, string> = {
  put: 's3:PutObject',
  get: 's3:GetObject',
  delete: 's3:DeleteObject',
  list: 's3:ListBucket',
};

export function smokePlan(zone: Zone, smoke: SmokeSettings = SMOKE_DEFAULTS): SmokePlan {
  const doc = compilePolicy(zone);
  const keys = canaryKeys(zone, smoke);
  const verdict = (bucket: string, op: SmokeOperation, key?: string): Verdict =>
    evaluatePolicy(doc, ACTION_OF[op], key === undefined ? bucketArn(bucket) : objectArn(bucket, key));

  const probes: Array<Omit<SmokeCell, 'expect'>> = [];
  for (const bucket of [...zone.policy.readWrite].sort()) {
    // If a raw Deny forbids the zone's own put, reads target root's canary instead.
    const ownCanary = verdict(bucket, 'put', keys.zone) === 'allow';
    const readKey = ownCanary ? keys.zone : keys.root;
    probes.push(
      { bucket, scope: 'readWrite', operation: 'put', key: keys.zone },
      { bucket, scope: 'readWrite', operation: 'get', key: readKey },
      { bucket, scope: 'readWrite', operation: 'list' },
      { bucket, scope: 'readWrite', operation: 'delete', key: readKey },
    );
  }
  for (const bucket of [...zone.policy.readOnly].sort()) {
    probes.push(
      { bucket, scope: 'readOnly', operation: 'list' },
      { bucket, scope: 'readOnly', operation: 'get', key: keys.root },
      { bucket, scope: 'readOnly', operation: 'put', key: keys.zone },
      // After get: if the policy wrongly allows delete, the read has been checked already.
      { bucket, scope: 'readOnly', operation: 'delete', key: keys.root },
    );
  }
  probes.push(
    { bucket: smoke.outsideBucket, scope: 'outside', operation: 'list' },
    { bucket: smoke.outsideBucket, scope: 'outside', operation: 'put', key: keys.zone },
  );

  const cells: SmokeCell[] = [];
  const notCovered: SmokePlan['notCovered'] = [];
  for (const probe of probes) {
    const v = verdict(probe.bucket, probe.operation, probe.key);
    if (v === 'unknown') {
      notCovered.push({ ...probe, reason: 'depends on a Condition or policy variable in a raw statement' });
    } else {
      cells.push({ ...probe, expect: v });
    }
  }

  const rootCanaries: SmokePlan['rootCanaries'] = [];
  for (const cell of cells) {
    if (cell.key === keys.root && !rootCanaries.some((c) => c.bucket === cell.bucket)) {
      rootCanaries.push({ bucket: cell.bucket, key: keys.root });
    }
  }
  return { zone: zone.name, user: zone.user, policyName: policyName(zone), rootCanaries, cells, notCovered };
}

/** The expected matrix alone; see smokePlan for the root canaries the runner needs first. */
export function smokeMatrix(zone: Zone, smoke: SmokeSettings = SMOKE_DEFAULTS): SmokeCell[] {
  return smokePlan(zone, smoke).cells;
}

/**
 * Every bucket the rotator needs to exist: all buckets named in zone bucket lists plus
 * the smoke's outside bucket (without it, "denied" could be confused with "no such bucket").
 * Buckets mentioned only in raw statements are not included: they may be patterns.
 */
export function bucketsOf(inv: Pick<Inventory, 'zones' | 'smoke'>): string[] {
  const all = new Set<string>([inv.smoke.outsideBucket]);
  for (const zone of inv.zones) {
    for (const b of [...zone.policy.readWrite, ...zone.policy.readOnly]) all.add(b);
  }
  return [...all].sort();
}
