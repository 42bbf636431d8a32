// What the rotator's metrics say, computed from what Temporal and Kubernetes hold right now
// (never from this process's memory): every worker computes the same values, a restarted
// worker computes them again, and replay cannot count anything twice. Pure: the collector
// (collect.ts) gathers the inputs, this turns them into samples.
import { FAILURE } from '../workflows/names';
import { type WorkflowType } from '../workflows/types';

/** How a run ended, in the vocabulary of the metrics' `result` label. */
export const RESULTS = ['completed', 'failed', 'rolled_back', 'canceled'] as const;
export type RotationResult = (typeof RESULTS)[number];

export const WAIT_REASONS = ['approval', 'paused', 'grace'] as const;
export type WaitReason = (typeof WAIT_REASONS)[number];

export const AUDIT_KINDS = ['drift', 'violation'] as const;

/** Temporal's execution status names (the client's WorkflowExecutionStatusName). */
export type ExecutionStatus =
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'TERMINATED'
  | 'CONTINUED_AS_NEW'
  | 'TIMED_OUT'
  | 'UNKNOWN'
  | 'UNSPECIFIED';

/** A closed run of one of the rotator's workflows, with what its history says about it. */
export interface ClosedRun {
  workflowId: string;
  runId: string;
  type: WorkflowType;
  /** RotateZone: the zone (search attribute RotatorZone). */
  zone?: string;
  status: ExecutionStatus;
  startTime: Date;
  closeTime: Date;
  /** The first run of a continue-as-new chain this run ends (absent when it is its own first run). */
  firstRunId?: string;
  /** The type of the ApplicationFailure the run failed with (RolledBack, RotationFailed, …). */
  failureType?: string;
  /** A dry run (outcome "planned"): a plan, not a rotation. */
  dryRun?: boolean;
  /** Smoke cells that failed in this run, by zone. */
  smokeCellFailures: Record<string, number>;
}

/** An open run and the phase its `status` query reports (undefined when the query failed). */
export interface OpenRun {
  workflowId: string;
  type: WorkflowType;
  zone?: string;
  phase?: string;
  /** Steps the run retries right now (its status query's `retrying`). */
  retrying?: Array<{ kind: string; attempts: number; escalated: boolean }>;
}

export interface ScheduleFacts {
  id: string;
  workflowType: string;
  /** The schedule's first action argument (the workflow input), decoded. */
  input: unknown;
  paused: boolean;
  /** The next action times the server computed. */
  nextActionTimes: Date[];
}

export interface KubeFacts {
  /** Per zone: whether `<secret>-pending` exists (both keys valid), and the Secret's rotated-at annotation. */
  zones: Array<{ zone: string; pending: boolean; rotatedAt?: Date }>;
  root: { pending: boolean; rotatedAt?: Date };
}

export interface Snapshot {
  zones: string[];
  closed: ClosedRun[];
  open: OpenRun[];
  schedules: ScheduleFacts[];
  kube?: KubeFacts;
  /** Audit findings by kind (undefined until an audit ran). */
  audit?: Record<string, number>;
  pollers?: { workflow: number; activity: number };
}

export type Labels = Record<string, string>;
export interface Sample {
  labels: Labels;
  value: number;
}

export const ROOT_TARGET = 'root';
export const zoneTarget = (zone: string) => `zone/${zone}`;

/**
 * The zone label of a RotateZone run whose zone is not one of the inventory's: the zone comes
 * from the run's RotatorZone search attribute, which any client can set at start (and a run
 * sets from its input before checking it), so labels carry inventory zone names only and the
 * number of series stays bounded. No zone name can be it (zone names are DNS labels).
 */
export const UNKNOWN_ZONE = '(unknown)';

/** The run's zone as a label value: an inventory zone, else UNKNOWN_ZONE. */
const zoneOf = (s: Snapshot, zone: string | undefined): string =>
  zone !== undefined && s.zones.includes(zone) ? zone : UNKNOWN_ZONE;

/** The result label of a closed run; undefined for a run that is no end (continued as new) or a plan. */
export function resultOf(run: ClosedRun): RotationResult | undefined {
  if (run.dryRun) return undefined;
  switch (run.status) {
    case 'COMPLETED':
      return 'completed';
    case 'CANCELLED':
      return 'canceled';
    case 'FAILED':
      return run.failureType === FAILURE.rolledBack ? 'rolled_back' : 'failed';
    case 'TERMINATED':
    case 'TIMED_OUT':
      return 'failed';
    default:
      return undefined;
  }
}

/** The target a run rotates; none for a zone the inventory does not have. */
const targetOf = (s: Snapshot, run: { type: WorkflowType; zone?: string }): string | undefined =>
  run.type === 'RotateRoot'
    ? ROOT_TARGET
    : run.type === 'RotateZone' && run.zone !== undefined && s.zones.includes(run.zone)
      ? zoneTarget(run.zone)
      : undefined;

/** The label sets every scrape reports, so a first failure is an increase from 0, not a new series. */
function workflowLabels(s: Snapshot): Labels[] {
  const zones = new Set(s.zones);
  for (const r of [...s.closed, ...s.open]) if (r.type === 'RotateZone') zones.add(zoneOf(s, r.zone));
  return [
    { workflow: 'BootstrapCluster', zone: '' },
    { workflow: 'RotateRoot', zone: '' },
    ...[...zones].sort().map((zone) => ({ workflow: 'RotateZone', zone })),
  ];
}

const labelsOf = (s: Snapshot, run: { type: WorkflowType; zone?: string }): Labels => ({
  workflow: run.type,
  zone: run.type === 'RotateZone' ? zoneOf(s, run.zone) : '',
});
const key = (l: Labels) => JSON.stringify(Object.entries(l).sort());

/** rustfs_rotator_rotations_total{workflow,zone,result}: closed runs within the namespace's retention. */
export function rotationsTotal(s: Snapshot): Sample[] {
  const counts = new Map<string, Sample>();
  for (const l of workflowLabels(s))
    for (const result of RESULTS) counts.set(key({ ...l, result }), { labels: { ...l, result }, value: 0 });
  for (const run of s.closed) {
    const result = resultOf(run);
    if (!result) continue;
    const labels = { ...labelsOf(s, run), result };
    const sample = counts.get(key(labels)) ?? { labels, value: 0 };
    sample.value += 1;
    counts.set(key(labels), sample);
  }
  return [...counts.values()];
}

/** The latest run (by close time) of each workflow/zone that ended as a rotation (not a plan, not continued). */
function latestRuns(s: Snapshot): Map<string, { labels: Labels; run: ClosedRun; result: RotationResult }> {
  const latest = new Map<string, { labels: Labels; run: ClosedRun; result: RotationResult }>();
  for (const run of s.closed) {
    const result = resultOf(run);
    if (!result) continue;
    const labels = labelsOf(s, run);
    const prev = latest.get(key(labels));
    if (!prev || prev.run.closeTime < run.closeTime) latest.set(key(labels), { labels, run, result });
  }
  return latest;
}

/** rustfs_rotator_last_rotation_result{workflow,zone,result}: 1 for how the latest run ended, 0 for the others. */
export function lastRotationResult(s: Snapshot): Sample[] {
  const latest = latestRuns(s);
  return workflowLabels(s).flatMap((l) => {
    const last = latest.get(key(l));
    if (!last) return [];
    return RESULTS.map((result) => ({ labels: { ...l, result }, value: last.result === result ? 1 : 0 }));
  });
}

/**
 * rustfs_rotator_last_success_timestamp_seconds{target}: when the latest completed rotation
 * closed. With no run of the target at all within the retention, the Secret's rotated-at
 * annotation (bootstrap or the last promotion) — not when there are only runs that did not
 * complete, since an undo writes that annotation too. 0 when nothing says (never rotated, as
 * far as anything records): the "not rotated" alerts then fire, which is what they are for.
 */
export function lastSuccess(s: Snapshot): Sample[] {
  const best = new Map<string, number>();
  for (const run of s.closed) {
    const target = targetOf(s, run);
    const result = resultOf(run);
    if (!target || !result) continue;
    best.set(
      target,
      Math.max(best.get(target) ?? 0, result === 'completed' ? run.closeTime.getTime() / 1000 : 0),
    );
  }
  const annotated = new Map<string, Date | undefined>([
    ...(s.kube?.zones ?? []).map((z) => [zoneTarget(z.zone), z.rotatedAt] as const),
    [ROOT_TARGET, s.kube?.root.rotatedAt],
  ]);
  return targets(s).map((target) => {
    const fromRuns = best.get(target);
    const fromSecret = annotated.get(target);
    return {
      labels: { target },
      value: fromRuns ?? (fromSecret ? fromSecret.getTime() / 1000 : 0),
    };
  });
}

function targets(s: Snapshot): string[] {
  const set = new Set([ROOT_TARGET, ...s.zones.map(zoneTarget)]);
  for (const run of s.closed) {
    const t = targetOf(s, run);
    if (t) set.add(t);
  }
  return [...set].sort();
}

/**
 * rustfs_rotator_rotation_duration_seconds{workflow,result} observations: from the start of a
 * run (the first run of a continue-as-new chain) to its close.
 */
export function rotationDurations(s: Snapshot): Array<{ labels: Labels; seconds: number }> {
  const starts = new Map(s.closed.map((r) => [r.runId, r.startTime]));
  return s.closed.flatMap((run) => {
    const result = resultOf(run);
    if (!result) return [];
    const start = (run.firstRunId && starts.get(run.firstRunId)) || run.startTime;
    return [
      {
        labels: { workflow: run.type, result },
        seconds: Math.max(0, (run.closeTime.getTime() - start.getTime()) / 1000),
      },
    ];
  });
}

const PHASE_REASON: Record<string, WaitReason> = {
  'awaiting-approval': 'approval',
  paused: 'paused',
  'waiting-grace': 'grace',
};

/**
 * rustfs_rotator_waiting{workflow,zone,reason}: open runs waiting for a person or for time.
 * Every reason a workflow can wait for is reported (0 when not waiting), except for a run whose
 * status could not be queried: unknown, so absent rather than a wrong 0.
 */
export function waiting(s: Snapshot): Sample[] {
  const reasonsOf: Record<string, WaitReason[]> = {
    RotateRoot: ['approval', 'paused'],
    RotateZone: ['grace'],
  };
  const unknown = new Set(s.open.filter((r) => r.phase === undefined).map((r) => key(labelsOf(s, r))));
  const counts = new Map<string, number>();
  for (const run of s.open) {
    const reason = run.phase ? PHASE_REASON[run.phase] : undefined;
    if (reason) {
      const k = key({ ...labelsOf(s, run), reason });
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
  }
  return workflowLabels(s).flatMap((l) =>
    unknown.has(key(l))
      ? []
      : (reasonsOf[l.workflow!] ?? []).map((reason) => ({
          labels: { ...l, reason },
          value: counts.get(key({ ...l, reason })) ?? 0,
        })),
  );
}

/**
 * rustfs_rotator_retrying_steps{workflow,zone,kind,escalated}: steps of open runs that keep
 * failing and are retried within their budget (escalated: failing longer than the run's
 * escalateAfter, people told); rustfs_rotator_retry_attempts: their failed attempts so far.
 * Only what runs retry now: a kind nobody retries has no series.
 */
export function retrying(s: Snapshot, what: 'steps' | 'attempts'): Sample[] {
  const sums = new Map<string, Sample>();
  for (const run of s.open) {
    for (const r of run.retrying ?? []) {
      const labels = { ...labelsOf(s, run), kind: r.kind, escalated: String(r.escalated) };
      const k = key(labels);
      const sample = sums.get(k) ?? { labels, value: 0 };
      sample.value += what === 'steps' ? 1 : r.attempts;
      sums.set(k, sample);
    }
  }
  return [...sums.values()];
}

/** rustfs_rotator_previous_key_valid{zone}: 1 while the zone's pending record holds a second valid key. */
export function previousKeyValid(s: Snapshot): Sample[] {
  return (s.kube?.zones ?? []).map((z) => ({ labels: { zone: z.zone }, value: z.pending ? 1 : 0 }));
}

/** rustfs_rotator_smoke_cell_failures_total{zone}: failed smoke cells in closed runs within the retention. */
export function smokeCellFailures(s: Snapshot): Sample[] {
  const counts = new Map<string, number>(s.zones.map((z) => [z, 0]));
  for (const run of s.closed)
    for (const [zone, n] of Object.entries(run.smokeCellFailures))
      counts.set(zoneOf(s, zone), (counts.get(zoneOf(s, zone)) ?? 0) + n);
  return [...counts.entries()].sort().map(([zone, value]) => ({ labels: { zone }, value }));
}

/** rustfs_rotator_audit_findings{kind}. */
export function auditFindings(s: Snapshot): Sample[] {
  if (!s.audit) return [];
  const kinds = new Set([...AUDIT_KINDS, ...Object.keys(s.audit)]);
  return [...kinds].map((kind) => ({ labels: { kind }, value: s.audit![kind] ?? 0 }));
}

/** rustfs_rotator_schedule_paused{schedule,workflow}. */
export function schedulePaused(s: Snapshot): Sample[] {
  return s.schedules.map((sc) => ({
    labels: { schedule: sc.id, workflow: sc.workflowType },
    value: sc.paused ? 1 : 0,
  }));
}

/** The targets a schedule's action rotates. */
export function scheduleTargets(sc: ScheduleFacts, zones: string[]): string[] {
  const input = (sc.input ?? {}) as { rotate?: unknown; zone?: unknown; dryRun?: unknown };
  if (input.dryRun === true) return [];
  if (sc.workflowType === 'RotateRoot') return [ROOT_TARGET];
  // A schedule's input is whatever its creator wrote: only an inventory zone is a target.
  if (sc.workflowType === 'RotateZone' && typeof input.zone === 'string')
    return zones.includes(input.zone) ? [zoneTarget(input.zone)] : [];
  if (sc.workflowType === 'BootstrapCluster' && input.rotate === true) return zones.map(zoneTarget);
  return [];
}

/** The longest gap between consecutive action times: a monthly cron gives 31 days. */
export function longestGapSeconds(times: Date[]): number | undefined {
  const sorted = times.map((t) => t.getTime()).sort((a, b) => a - b);
  let gap: number | undefined;
  for (let i = 1; i < sorted.length; i++) gap = Math.max(gap ?? 0, (sorted[i]! - sorted[i - 1]!) / 1000);
  return gap;
}

/**
 * rustfs_rotator_rotation_interval_seconds{target}: how often the schedules rotate a target at
 * most apart (the shortest among the schedules that rotate it); absent for an unscheduled target.
 * The "not rotated" alert compares the age of the last success against this plus a margin.
 */
export function rotationInterval(s: Snapshot): Sample[] {
  const best = new Map<string, number>();
  for (const sc of s.schedules) {
    const gap = longestGapSeconds(sc.nextActionTimes);
    if (gap === undefined) continue;
    for (const t of scheduleTargets(sc, s.zones)) best.set(t, Math.min(best.get(t) ?? Infinity, gap));
  }
  return [...best.entries()].sort().map(([target, value]) => ({ labels: { target }, value }));
}

/** rustfs_rotator_task_queue_pollers{type}: pollers the server saw recently on the worker's task queue. */
export function taskQueuePollers(s: Snapshot): Sample[] {
  if (!s.pollers) return [];
  return [
    { labels: { type: 'workflow' }, value: s.pollers.workflow },
    { labels: { type: 'activity' }, value: s.pollers.activity },
  ];
}
