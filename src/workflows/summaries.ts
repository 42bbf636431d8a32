// What each command of a run says it is, as the Web UI and `rotator history` show it: every
// activity (regular and local) carries "<activity>: <its zone or target>", and every wait a
// fixed summary saying what it waits for. They are recorded in the history with the command
// (user metadata), so a reader of the history looks them up instead of guessing a step from
// its position. Names and kinds only: no key, no fingerprint, nothing read from a Secret.
// Pure and free of the workflow runtime, so the timeline (src/timeline/) reads the same table.
import type { Activities } from '../activities';
import type { WorkloadRef } from '../kube/rollout-status';
import { UPDATE } from './names';

/**
 * The waits of a run, by what they wait for, each with the summary its timer carries. A
 * timer's summary is exactly one of these, so the kind of wait is read back by equality.
 */
export const WAIT = {
  /** RotateRoot's approval gate: ended by `approve`, or by its timeout. */
  approval: 'awaiting approval',
  /** RotateRoot paused after a missed restart window: ended by `resume` or `rollback`. */
  pause: 'PAUSED: waiting for resume or rollback',
  /** RotateZone's grace period: the previous key stays valid; ended early by `revokeNow`. */
  grace: 'grace period: the previous key stays valid',
  /** RotateZone after its grace period: until the next check of pods holding the previous key. */
  gracePoll: 'grace period: until the next check of pods holding the previous key',
  /** An undo waiting for pods that could hold the new key to end before deleting it. */
  undoPodCheck: 'undo: until the next check of pods that could hold the new key',
  /** Pods must start in a later whole second than the promotion (runs before zone-runbook-v2). */
  nextSecond: 'until the next whole second (pod start times are in seconds)',
  /** A failing step's backoff before its next attempt, within its retry budget; ended early by `stopRetrying`. */
  retryBackoff: 'retry: until the next attempt of a failing step',
} as const;

export type WaitKind = keyof typeof WAIT;
export type WaitSummary = (typeof WAIT)[WaitKind];

const WAIT_KINDS = new Map<string, WaitKind>(
  (Object.entries(WAIT) as [WaitKind, WaitSummary][]).map(([kind, summary]) => [summary, kind]),
);

/** The kind of wait a timer's summary records; undefined for any other summary (or none). */
export function waitKindOf(summary: string | undefined): WaitKind | undefined {
  return summary === undefined ? undefined : WAIT_KINDS.get(summary);
}

/** The wait each update answers: the timeline says which update ended which wait. */
export const WAIT_ENDED_BY: Readonly<Record<string, WaitKind>> = {
  [UPDATE.approve]: 'approval',
  [UPDATE.resume]: 'pause',
  [UPDATE.rollback]: 'pause',
  [UPDATE.revokeNow]: 'grace',
  [UPDATE.stopRetrying]: 'retryBackoff',
};

const zone = (name: string) => `zone ${name}`;
const workloads = (refs: readonly WorkloadRef[]) => {
  const shown = refs.slice(0, 3).map((r) => `${r.kind} ${r.namespace}/${r.name}`);
  return refs.length > 3
    ? `${shown.join(', ')} and ${refs.length - 3} more`
    : shown.join(', ') || 'no workloads';
};

type Targets = { [K in keyof Activities]?: (...args: Parameters<Activities[K]>) => string | undefined };

/**
 * What each activity acts on, from its arguments (typed by the activity's own parameters).
 * An activity without an entry, or whose entry returns undefined, acts on no zone or target
 * and is summarised by its name alone.
 */
const TARGETS: Targets = {
  announce: (a) => (a.zone ? zone(a.zone) : a.workflow),
  describeRun: (ref) => ref.workflowId,
  assertNoConflictingRun: (self) => self.workflowId,
  verifyRoot: (source = 'current') => `root (${source})`,
  ensureZonePolicies: () => 'every zone',
  ensureZoneIdentity: (name, source = 'current') => `${zone(name)} (${source})`,
  describeZoneIdentity: (name) => zone(name),
  discardPendingIdentity: (name) => zone(name),
  revokePrevious: (name) => zone(name),
  waitForStoreWithRoot: () => 'the store',
  credentialAuthenticates: (ref) => `Secret ${ref.namespace}/${ref.name}`,
  smokeZone: (name, source = 'current') => `${zone(name)} (${source})`,
  describeZoneSecret: (name) => zone(name),
  describeRootSecret: () => 'root',
  zoneConsumers: (name) => zone(name),
  ensureZoneSecret: (name) => zone(name),
  recordZonePending: (name) => zone(name),
  promoteZonePending: (name) => zone(name),
  restoreZonePrevious: (name) => zone(name),
  deleteZonePending: (name) => zone(name),
  recordRootPending: () => 'root',
  promoteRootPending: () => 'root',
  restoreRootPrevious: () => 'root',
  deleteRootPending: () => 'root',
  restartWorkloads: (refs) => workloads(refs),
  forceRollback: (ref) => workloads([ref]),
  waitForRollouts: (refs) => workloads(refs),
  podsHoldingPrevious: (name) => zone(name),
  lockZonePending: (name) => zone(name),
  lockRootPending: () => 'root',
  zoneHolder: (name) => zone(name),
  ensureWorkPools: (name) => zone(name),
};

/** The summary an activity call carries: "<activity>: <target>", or the activity alone. */
export function activitySummary(activityType: string, args: readonly unknown[]): string {
  const target = (TARGETS as Record<string, ((...a: unknown[]) => string | undefined) | undefined>)[
    activityType
  ]?.(...args);
  return target ? `${activityType}: ${target}` : activityType;
}

/** What a smoke step says it found: cells passed, and on a multi-node store the nodes asked. */
export function smokeResult(r: {
  passed: number;
  cells: number;
  nodes?: string[];
  skipped?: string[];
}): string {
  const on = r.nodes ? ` on ${r.nodes.length} node(s)` : '';
  const skipped = r.skipped?.length ? `, ${r.skipped.join(', ')} not serving (skipped)` : '';
  return `${r.passed}/${r.cells} cells${on}${skipped}`;
}
