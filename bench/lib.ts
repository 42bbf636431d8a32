// Shared helpers for the benchmarks: timing, statistics, history analysis, logging.
import { type Client } from '@temporalio/client';
import { type SandboxState } from '../src/sandbox/state';
import { localActivityMs, localActivityRecord } from '../src/temporal/local-activity-marker';

/** Progress goes to stderr; stdout is reserved for the JSON report. */
export const log = (msg: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const round = (x: number, digits = 0) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export interface BenchContext {
  stack: SandboxState;
  runs: number;
  quick: boolean;
}

/** Time spent in each kind of wait, read from a workflow's history (event times are the server's). */
export interface HistoryTimes {
  /** Sum of timers as they fired (workflow sleeps, e.g. the pod start-second boundary). */
  timersMs: number;
  /** Sum of the durations the timers were started with (what the workflow asked for). */
  timersConfiguredMs: number;
  timers: Array<{ configuredMs: number; firedAfterMs: number }>;
  /** ActivityTaskStarted → Completed per activity type, summed; a local activity's marker times. */
  activityRunMs: Record<string, number>;
  /** ActivityTaskScheduled → Completed per activity type, summed (includes queueing). */
  activityTotalMs: Record<string, number>;
  activityCount: Record<string, number>;
  activities: number;
  /** Of `activities`, how many ran as local activities (no server round trip each). */
  localActivities: number;
  events: number;
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  t ? Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : 0;

export async function historyTimes(client: Client, workflowId: string): Promise<HistoryTimes> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Map<number, { type: string; at: number }>();
  const started = new Map<number, number>();
  const timers = new Map<number, { at: number; configured: number }>();
  const out: HistoryTimes = {
    timersMs: 0,
    timersConfiguredMs: 0,
    timers: [],
    activityRunMs: {},
    activityTotalMs: {},
    activityCount: {},
    activities: 0,
    localActivities: 0,
    events: events.length,
  };
  const count = (type: string, runMs: number, totalMs: number) => {
    out.activities += 1;
    out.activityCount[type] = (out.activityCount[type] ?? 0) + 1;
    out.activityTotalMs[type] = (out.activityTotalMs[type] ?? 0) + totalMs;
    out.activityRunMs[type] = (out.activityRunMs[type] ?? 0) + runMs;
  };
  for (const e of events) {
    const id = Number(e.eventId);
    const at = ms(e.eventTime as never);
    if (e.activityTaskScheduledEventAttributes) {
      scheduled.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', at });
    } else if (e.activityTaskStartedEventAttributes) {
      started.set(Number(e.activityTaskStartedEventAttributes.scheduledEventId), at);
    } else if (e.activityTaskCompletedEventAttributes) {
      const sid = Number(e.activityTaskCompletedEventAttributes.scheduledEventId);
      const s = scheduled.get(sid);
      if (s) count(s.type, at - (started.get(sid) ?? s.at), at - s.at);
    } else if (e.markerRecordedEventAttributes) {
      const la = localActivityRecord(e);
      if (la) {
        out.localActivities += 1;
        count(la.activityType, localActivityMs(la), localActivityMs(la));
      }
    } else if (e.timerStartedEventAttributes) {
      const configured = ms(e.timerStartedEventAttributes.startToFireTimeout as never);
      timers.set(id, { at, configured });
    } else if (e.timerFiredEventAttributes) {
      const s = timers.get(Number(e.timerFiredEventAttributes.startedEventId));
      if (s !== undefined) {
        out.timersMs += at - s.at;
        out.timersConfiguredMs += s.configured;
        out.timers.push({ configuredMs: Math.round(s.configured), firedAfterMs: Math.round(at - s.at) });
      }
    }
  }
  return out;
}

/** A bounded deadline guard: throws when a loop would outlive its budget. */
export function budget(what: string, ms: number) {
  const end = Date.now() + ms;
  return {
    get expired() {
      return Date.now() > end;
    },
    check() {
      if (Date.now() > end) throw new Error(`${what}: exceeded its ${Math.round(ms / 1000)} s budget`);
    },
  };
}

/** Failure windows of a sequence of timed outcomes. */
export class FailureWindows {
  requests = 0;
  failures = 0;
  longestMs = 0;
  totalMs = 0;
  windows = 0;
  errors: string[] = [];
  private since: number | undefined;

  ok(at = Date.now()): void {
    this.requests += 1;
    if (this.since !== undefined) this.close(at);
  }

  fail(err: string, at = Date.now()): void {
    this.requests += 1;
    this.failures += 1;
    if (this.since === undefined) {
      this.since = at;
      this.windows += 1;
    }
    if (this.errors.length < 5 && !this.errors.includes(err)) this.errors.push(err);
  }

  /** Close a window still open at the end. */
  finish(at = Date.now()): void {
    if (this.since !== undefined) this.close(at);
  }

  private close(at: number): void {
    const d = at - this.since!;
    this.longestMs = Math.max(this.longestMs, d);
    this.totalMs += d;
    this.since = undefined;
  }

  report() {
    return {
      requests: this.requests,
      failures: this.failures,
      windows: this.windows,
      longestFailureMs: Math.round(this.longestMs),
      totalFailureMs: Math.round(this.totalMs),
      errors: this.errors,
    };
  }
}

/**
 * Counts and times the madmin envelope's Argon2id key derivations (64 MiB, t=1, p=4, on the
 * native binding's thread pool). src/rustfs calls `hashRaw` through the module object, so
 * replacing the export sees every call made in this process.
 */
export function instrumentArgon2(): { calls: number; ms: number } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const binding = require('@node-rs/argon2') as { hashRaw: (...args: unknown[]) => Promise<unknown> };
  const existing = (binding.hashRaw as { stats?: { calls: number; ms: number } }).stats;
  if (existing) return existing;
  const stats = { calls: 0, ms: 0 };
  const original = binding.hashRaw;
  const wrapped = async (...args: unknown[]) => {
    const t = performance.now();
    try {
      return await original(...args);
    } finally {
      stats.calls += 1;
      stats.ms += performance.now() - t;
    }
  };
  binding.hashRaw = Object.assign(wrapped, { stats });
  return stats;
}
