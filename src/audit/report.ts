// Who reads what, read-only: store users → policies → buckets and actions; each zone Secret
// → the workloads that mount it; and the findings on-call acts on: drift (a Secret whose key
// no longer authenticates, a user or service account no zone owns, a pending record whose run
// is closed) and violations (the root Secret referenced by anything but the store). Used by
// `rotator audit` (src/cli/audit.ts renders it) and by the worker's metrics.
import { KEYS, pendingName } from '../activities/credentials';
import { recordOwner, type RunRef } from '../activities/pending-records';
import { describeRunRef, type RunState } from '../activities/temporal';
import { fingerprint } from '../fingerprint';
import { auditNetworkPolicies, type NetworkAudit } from '../netpol/audit';
import { ZONE_CLIENT_LABEL, type Inventory } from '../inventory';
import { findConsumers, readSecret, type Kube } from '../kube';
import { type PrefectClient } from '../prefect/client';
import { describeProblems, inspectTemplate, podLabelProblem } from '../prefect/template';
import { createAdminClient, createS3, isAdminError, type AdminClient, type Credentials } from '../rustfs';
import { rootServiceAccounts, SESSIONS_END } from '../rustfs/root-dependents';

export interface BucketAccess {
  bucket: string;
  actions: string[];
}

export interface AuditUser {
  user: string;
  status: string;
  zone?: string;
  policies: string[];
  access: BucketAccess[];
  serviceAccounts: Array<{ accessKey: string; status?: string; heldBy?: string }>;
}

export interface AuditSecret {
  zone: string;
  secret: string;
  exists: boolean;
  accessKey?: string;
  fingerprint?: string;
  authenticates?: boolean;
  workloads: string[];
}

export interface Finding {
  /** violation: against policy; drift: the store or cluster is not what it should be; warning: a hazard. */
  severity: 'violation' | 'drift' | 'warning';
  subject: string;
  message: string;
}

export interface AuditWorkPool {
  zone: string;
  pool: string;
  api: string;
  /** What is wrong with its base job template; absent when it could not be read. */
  problems?: string[];
  error?: string;
}

export interface AuditReport {
  store: { endpoint: string; kind: string };
  users: AuditUser[];
  secrets: AuditSecret[];
  workPools: AuditWorkPool[];
  /** serviceAccounts: access keys of the service accounts whose parent is the root (absent when unlistable). */
  root: { secret: string; workloads: string[]; serviceAccounts?: string[] };
  /** Which pods the live NetworkPolicies let reach the store port (a static check). */
  network: NetworkAudit;
  findings: Finding[];
}

/** Bucket → actions from a policy document's Allow statements. */
export function accessOf(doc: unknown): BucketAccess[] {
  const byBucket = new Map<string, Set<string>>();
  const statements = ((doc as { Statement?: unknown[] })?.Statement ?? []) as Array<Record<string, unknown>>;
  const list = (v: unknown): string[] =>
    Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)];
  for (const st of statements) {
    if (st.Effect !== 'Allow') continue;
    for (const resource of list(st.Resource)) {
      const m = /^arn:aws:s3:::([^/]+)/.exec(resource);
      const bucket = m ? m[1]! : resource;
      const set = byBucket.get(bucket) ?? new Set<string>();
      for (const a of list(st.Action)) set.add(a);
      byBucket.set(bucket, set);
    }
  }
  return [...byBucket.entries()]
    .map(([bucket, actions]) => ({ bucket, actions: [...actions].sort() }))
    .sort((a, b) => a.bucket.localeCompare(b.bucket));
}

async function authenticates(
  endpoint: string,
  region: string,
  cred: Credentials,
  bucket: string,
): Promise<boolean> {
  const s3 = createS3({ endpoint, region, credentials: cred, maxAttempts: 1 });
  try {
    await s3.listObjects(bucket);
    return true;
  } catch (err) {
    // Denied or missing means the store knew who asked: the key authenticates.
    return isAdminError(err, 'AccessDenied') || isAdminError(err, 'NotFound');
  } finally {
    s3.close();
  }
}

/** Whether a pending record's owner is still open: asked of Temporal by the caller. */
export type RunStateOf = (ref: RunRef) => Promise<RunState>;

/**
 * A pending record is a rotation in progress only while the run it names is open; left by
 * a closed run (terminated, timed out) it is a leftover holding keys that may still work.
 */
async function pendingRecordState(
  record: Awaited<ReturnType<typeof readSecret>>,
  stateOf: RunStateOf,
): Promise<{ open: boolean; label: string }> {
  const owner = record && recordOwner(record);
  if (!owner) return { open: false, label: 'names no run' };
  const state = await stateOf(owner);
  return {
    open: state.open,
    label: state.open
      ? `rotation in progress: ${describeRunRef(state)}`
      : `left by ${describeRunRef(state)}, ${state.status}`,
  };
}

export async function runAudit(
  inventory: Inventory,
  kube: Kube,
  adminEndpoint: string,
  stateOf: RunStateOf,
  prefect: PrefectClient,
): Promise<AuditReport> {
  const findings: Finding[] = [];
  const store = inventory.store;
  const rootRef = `${store.rootSecret.namespace}/${store.rootSecret.name}`;
  const root = await readSecret(kube, store.rootSecret.namespace, store.rootSecret.name);
  const rootAk = root?.data[KEYS.accessKey];
  const rootSk = root?.data[KEYS.secretKey];
  if (!rootAk || !rootSk)
    throw new Error(`root Secret ${rootRef} is missing or has no access-key/secret-key`);
  const admin: AdminClient = createAdminClient({
    endpoint: adminEndpoint,
    dialect: store.adminApi,
    region: store.region,
    credentials: { accessKey: rootAk, secretKey: rootSk },
  });

  // Secrets and who mounts them; the keys they (and their pending records) hold are "owned".
  const owned = new Map<string, string>();
  const secrets: AuditSecret[] = [];
  for (const zone of inventory.zones) {
    const ref = `${zone.secret.namespace}/${zone.secret.name}`;
    const s = await readSecret(kube, zone.secret.namespace, zone.secret.name);
    const consumers = await findConsumers(kube, zone.secret.namespace, zone.secret.name);
    const workloads = consumers.map((c) => `${c.kind}/${c.namespace}/${c.name} (${c.via.join(', ')})`);
    const ak = s?.data[KEYS.accessKey];
    const sk = s?.data[KEYS.secretKey];
    if (!ak || !sk) {
      secrets.push({ zone: zone.name, secret: ref, exists: false, workloads });
      findings.push({
        severity: 'drift',
        subject: `Secret ${ref}`,
        message: `zone ${zone.name} has no credential Secret (run BootstrapCluster)`,
      });
      continue;
    }
    owned.set(ak, `Secret ${ref}`);
    const pendingRef = `${zone.secret.namespace}/${pendingName(zone.secret.name)}`;
    const pending = await readSecret(kube, zone.secret.namespace, pendingName(zone.secret.name));
    if (pending) {
      const state = await pendingRecordState(pending, stateOf);
      for (const k of [KEYS.accessKey, KEYS.previousAccessKey] as const) {
        const v = pending.data[k];
        if (v && !owned.has(v)) owned.set(v, `Secret ${pendingRef} (${state.label})`);
      }
      if (!state.open)
        findings.push({
          severity: 'drift',
          subject: `Secret ${pendingRef}`,
          message: `pending record of zone ${zone.name} ${state.label}: no run is open, and the keys it records may both still work; reconcile it (revokes the superseded key) with: rotator start-workflow RotateZone --zone ${zone.name}`,
        });
    }
    const bucket = zone.policy.readOnly[0] ?? zone.policy.readWrite[0] ?? inventory.smoke.outsideBucket;
    const ok = await authenticates(adminEndpoint, store.region, { accessKey: ak, secretKey: sk }, bucket);
    secrets.push({
      zone: zone.name,
      secret: ref,
      exists: true,
      accessKey: ak,
      fingerprint: fingerprint(sk),
      authenticates: ok,
      workloads,
    });
    if (!ok) {
      findings.push({
        severity: 'drift',
        subject: `Secret ${ref}`,
        message: `its key ${ak} (${fingerprint(sk)}) no longer authenticates: consumers of zone ${zone.name} are failing; rotate the zone (rotator start-workflow RotateZone --zone ${zone.name})`,
      });
    }
  }

  const workPools = await auditWorkPools(inventory, prefect, findings);
  const network = await auditNetworkPolicies(inventory, kube);
  findings.push(...network.findings);

  const rootPendingRef = `${store.rootSecret.namespace}/${pendingName(store.rootSecret.name)}`;
  const rootPending = await readSecret(kube, store.rootSecret.namespace, pendingName(store.rootSecret.name));
  if (rootPending) {
    const state = await pendingRecordState(rootPending, stateOf);
    if (!state.open)
      findings.push({
        severity: 'drift',
        subject: `Secret ${rootPendingRef}`,
        message: `pending root record ${state.label}: no run is open; reconcile it (the root Secret is set to the root the store runs with) with: rotator start-workflow RotateRoot`,
      });
  }

  // The root Secret: only the store itself may reference it.
  const rootConsumers = await findConsumers(kube, store.rootSecret.namespace, store.rootSecret.name);
  const storeRef = `${store.workload.kind}/${store.workload.namespace}/${store.workload.name}`;
  for (const c of rootConsumers) {
    const ref = `${c.kind}/${c.namespace}/${c.name}`;
    if (ref !== storeRef) {
      findings.push({
        severity: 'violation',
        subject: ref,
        message: `${ref} references the root Secret ${rootRef} (${c.via.join(', ')}); only ${storeRef} may hold the root credential`,
      });
    }
  }

  // Service accounts of root itself: root's rights, tied to the root credential.
  let rootAccounts: string[] | undefined;
  try {
    rootAccounts = await rootServiceAccounts(admin, rootAk);
  } catch {
    // a store that cannot list root's own accounts: nothing to say
  }
  findings.push(...rootServiceAccountFindings(rootAk, rootAccounts ?? []));

  // Store users → policies → buckets/actions, and what no zone owns.
  const zoneByUser = new Map(inventory.zones.map((z) => [z.user, z.name]));
  const policyCache = new Map<string, BucketAccess[]>();
  const users: AuditUser[] = [];
  const listed = await admin.listUsers();
  for (const [user, summary] of Object.entries(listed).sort(([a], [b]) => a.localeCompare(b))) {
    const policies = (summary.policyName ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const access: BucketAccess[] = [];
    for (const p of policies) {
      if (!policyCache.has(p)) {
        try {
          policyCache.set(p, accessOf(await admin.infoCannedPolicy(p)));
        } catch {
          policyCache.set(p, []);
        }
      }
      access.push(...policyCache.get(p)!);
    }
    let accounts: AuditUser['serviceAccounts'] = [];
    try {
      accounts = (await admin.listServiceAccounts(user)).map((a) => ({
        accessKey: a.accessKey,
        status: a.accountStatus,
        heldBy: owned.get(a.accessKey),
      }));
    } catch {
      // a user the dialect cannot list accounts for: leave empty
    }
    const zone = zoneByUser.get(user);
    users.push({ user, status: summary.status, zone, policies, access, serviceAccounts: accounts });
    if (!zone) {
      findings.push({
        severity: 'drift',
        subject: `store user ${user}`,
        message: `no inventory zone owns user ${user} (policies: ${policies.join(', ') || 'none'}); remove it or add a zone`,
      });
    } else {
      for (const a of accounts) {
        if (!a.heldBy) {
          findings.push({
            severity: 'drift',
            subject: `service account ${a.accessKey}`,
            message: `service account ${a.accessKey} of ${user} (zone ${zone}) is held by no Secret nor pending record: a leftover key that still works; delete it with the store's admin tool (MinIO: mc admin user svcacct rm <alias> ${a.accessKey})`,
          });
        }
      }
    }
  }
  return {
    store: { endpoint: adminEndpoint, kind: store.kind },
    users,
    secrets,
    workPools,
    root: {
      secret: rootRef,
      workloads: rootConsumers.map((c) => `${c.kind}/${c.namespace}/${c.name}`),
      ...(rootAccounts && { serviceAccounts: rootAccounts }),
    },
    network,
    findings,
  };
}

/**
 * A warning per service account whose parent is the root (src/rustfs/root-dependents.ts): it
 * holds root's rights only while its parent equals the current root access key, a store that
 * loses IAM on a root change (RustFS alpha.85) loses it, and RotateRoot re-creates only the
 * zones' identities; its consumers are better served by a zone user's account.
 */
export function rootServiceAccountFindings(rootAccessKey: string, accessKeys: readonly string[]): Finding[] {
  return accessKeys.map((k) => ({
    severity: 'warning' as const,
    subject: `service account ${k}`,
    message: `service account ${k} has the root ${rootAccessKey} as its parent: it holds root's rights only while its parent is the current root access key, so it breaks on a root rotation that changes the root access key or on a store that loses IAM on a root change (RustFS alpha.85), and RotateRoot never re-creates it; give its consumer a zone (a user with a policy) instead. (${SESSIONS_END} on any root rotation)`,
  }));
}

/**
 * Each zone's work pools: the template must inject the zone Secret by secretKeyRef. A literal
 * key is a violation (it lives in Prefect's database and never rotates); a missing entry or a
 * reference to another Secret is drift that BootstrapCluster repairs or refuses to touch.
 */
async function auditWorkPools(
  inventory: Inventory,
  prefect: PrefectClient,
  findings: Finding[],
): Promise<AuditWorkPool[]> {
  const out: AuditWorkPool[] = [];
  for (const zone of inventory.zones) {
    for (const { api, pool } of zone.workPools) {
      const subject = `work pool ${pool} (${api})`;
      try {
        const current = await prefect.readPool(api, pool);
        const problems = describeProblems(
          inspectTemplate(pool, current.base_job_template, zone.secret.name),
          zone.secret.name,
        );
        const label =
          inventory.networkPolicies &&
          podLabelProblem(pool, current.base_job_template, ZONE_CLIENT_LABEL, zone.name);
        if (label) problems.push(label);
        out.push({ zone: zone.name, pool, api, problems });
        for (const p of problems)
          findings.push({
            severity: / literal value/.test(p) ? 'violation' : 'drift',
            subject,
            message: `work pool ${pool} of zone ${zone.name}: ${p}${/ missing\b/.test(p) ? '; re-install it with: rotator start-workflow BootstrapCluster' : ''}`,
          });
      } catch (err) {
        const error = (err as Error).message;
        out.push({ zone: zone.name, pool, api, error });
        findings.push({
          severity: 'drift',
          subject,
          message: `work pool ${pool} of zone ${zone.name}: ${error}`,
        });
      }
    }
  }
  return out;
}
