// Retries sized for outages (outage-budgets): each activity call is one attempt, and the
// workflow retries it with backoff for as long as its kind of step may (run-constants.ts), so
// the run itself knows which step fails, how often and why: the status query, the Web UI's
// details and the metrics show it while it lasts, and a person is told once it has lasted
// escalateAfter. A permanent error (nonRetryable: a 403, a policy mismatch, a typed failure of
// src/activities/failures.ts) or a cancel ends the step at once, as before.
import { ActivityFailure, ApplicationFailure, condition, isCancellation } from '@temporalio/workflow';
import { formatDuration } from '../inventory/duration';
import type { UpdateArg } from './definitions';
import { errorMessage, errorType } from './errors';
import type { RetryBudgets, StepKind } from './run-constants';
import type { RetryingStep } from './types';
import { WAIT } from './summaries';

/** What a budgeted call needs of its run (the Runbook is one). */
export interface RetryHost {
  readonly retryBudgets: RetryBudgets | undefined;
  readonly status: { readonly step: string | null };
  /** Each accepted stopRetrying, in order. */
  readonly stopRequests: readonly UpdateArg[];
  /** The budget a step of kind `base` retries within now. */
  retryKind(base: StepKind): StepKind;
  retrying(r: RetryingStep): void;
  retryEnded(r: RetryingStep): void;
  escalateRetry(r: RetryingStep): void;
}

/** A failure no retry can heal: the activity said so. */
function permanent(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && cause.nonRetryable === true;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What on-call can do while a step of this kind keeps failing. */
export function retryAdvice(kind: StepKind): string {
  const fix =
    'bring back what the error names (the apiserver, the store, Temporal, Prefect); the run goes on by itself';
  switch (kind) {
    case 'pastSwitch':
      return `consumers are on the new key and the previous key stays valid until this step succeeds: ${fix}. \`rotator stop-retrying\` ends the run now, naming the key still valid and the command that revokes it`;
    case 'compensation':
      return `the undo is retried until it succeeds or a person decides: ${fix}, or \`rotator stop-retrying\` ends the undo here (the run then fails saying where each key is)`;
    default:
      return `nothing is switched while this step retries: ${fix}. \`rotator stop-retrying\` fails the step now (the run then undoes what it did); a cancel undoes the run`;
  }
}

/**
 * Calls `call` until it succeeds, fails permanently, the budget of its kind is spent or a
 * person stops it; every failed attempt is recorded where on-call looks. The kind is decided
 * when the call starts: an undo's steps retry as compensation, steps past the switch as such.
 */
export async function withinBudget<T>(
  rb: RetryHost,
  base: StepKind,
  activity: string,
  call: () => Promise<T>,
): Promise<T> {
  const budgets = rb.retryBudgets!;
  const step = rb.status.step ?? activity;
  const kind = rb.retryKind(base);
  const budget = budgets.steps[kind];
  const stopsBefore = rb.stopRequests.length;
  let record: RetryingStep | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await call();
      if (record) rb.retryEnded(record);
      return result;
    } catch (err) {
      if (isCancellation(err) || permanent(err)) {
        if (record) rb.retryEnded(record);
        throw err;
      }
      const now = Date.now();
      record ??= {
        step,
        activity,
        kind,
        attempts: 0,
        since: iso(now),
        givesUpAt: iso(now + budget.budgetMs),
        lastError: '',
        advice: retryAdvice(kind),
        escalated: false,
      };
      record.attempts = attempt;
      record.lastError = errorMessage(err);
      record.lastErrorType = errorType(err);
      const backoffMs = Math.min(budget.initialMs * 2 ** (attempt - 1), budget.maxIntervalMs);
      const stop = rb.stopRequests[stopsBefore];
      if (stop || now + backoffMs > Date.parse(record.givesUpAt)) {
        rb.retryEnded(record);
        throw gaveUp(record, budget.budgetMs, stop);
      }
      record.nextAttemptAt = iso(now + backoffMs);
      rb.retrying(record);
      if (!record.escalated && now - Date.parse(record.since) >= budgets.escalateAfterMs) {
        record.escalated = true;
        rb.escalateRetry(record);
      }
      await condition(() => rb.stopRequests.length > stopsBefore, backoffMs, { summary: WAIT.retryBackoff });
    }
  }
}

function gaveUp(r: RetryingStep, budgetMs: number, stop: { by?: string; reason?: string } | undefined) {
  const over = formatDuration(Math.round(Math.max(0, Date.now() - Date.parse(r.since)) / 1000) * 1000);
  const why = stop
    ? `retries stopped${stop.by ? ` by ${stop.by}` : ''}${stop.reason ? ` (${stop.reason})` : ''}`
    : `its ${r.kind} budget of ${formatDuration(budgetMs)} is spent`;
  return ApplicationFailure.create({
    type: stop ? 'RetriesStopped' : 'RetriesExhausted',
    nonRetryable: true,
    message: `${r.activity} failed ${r.attempts} time(s) over ${over}, ${why}: ${r.lastError}`,
  });
}

type Fn = ((...args: unknown[]) => Promise<unknown>) & {
  executeWithOptions?: (options: unknown, args: unknown[]) => Promise<unknown>;
};

/** The proxy's activities, each call retried within the budget of `base` (or what the run is in). */
export function budgeted<T extends object>(rb: RetryHost, proxy: T, base: StepKind): T {
  return new Proxy(proxy, {
    get(target, name) {
      const fn = (target as Record<string | symbol, unknown>)[name] as Fn | undefined;
      if (typeof name !== 'string' || typeof fn !== 'function') return fn;
      const call: Fn = (...args) => withinBudget(rb, base, name, () => fn(...args));
      call.executeWithOptions = (options, args) =>
        withinBudget(rb, base, name, () => fn.executeWithOptions!(options, args));
      return call;
    },
  });
}
