// Activity proxies, one per option set, each typed with only the activities that option set is
// for: a two-hour heartbeating wait cannot be called under a one-minute timeout, nor a quick
// step under a two-hour one. Per-call options (a summary, say) go through each function's
// executeWithOptions, which the budgeted proxies (retry-budgets.ts) pass through.
import {
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';

/** Waits that heartbeat: rollouts, the store restarting. */
type LongWaitName = 'waitForRollouts' | 'waitForStoreWithRoot' | 'waitForStoreNode';
export type LongWaits = Pick<Activities, LongWaitName>;
/** Policy conformance through S3 with a zone's key. */
export type Smokes = Pick<Activities, 'smokeZone'>;
export type Announces = Pick<Activities, 'announce'>;
/** Reads and writes against the apiserver, the admin API, Temporal or Prefect: each returns within a minute. */
export type QuickSteps = Omit<Activities, LongWaitName | 'smokeZone' | 'announce'>;

// ---------------------------------------------------------------------------------------
// Runs started before outage-budgets: each step's own bounded retries, then the workflow sees
// the failure. Kept as they were for those runs (run-constants.ts).

/** Reads and writes against the apiserver or the admin API: fast, retried a few times. */
export const quickCall: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5 },
};

/**
 * Policy conformance: a fresh key may need a moment to reach every node, and on a multi-node
 * store each node is given up to 150 s to apply it (src/activities/smoke.ts).
 */
export const smokeCall: ActivityOptions = {
  startToCloseTimeout: '4 minutes',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '10s', maximumAttempts: 4 },
};

/** Long waits (rollouts, store restarts) heartbeat; a dead worker is noticed within 30 s. */
export const longWait: ActivityOptions = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2s', maximumAttempts: 3 },
};

/**
 * The same short calls as local activities: they run in the worker that runs the workflow,
 * without a round trip through the server per step (a rotation is ~14 such steps, and each
 * server round trip cost more than the call itself). Retries stay bounded and local; the
 * result, or the final failure, is recorded in the history as a marker per step.
 */
export const localQuickCall: LocalActivityOptions = {
  startToCloseTimeout: quickCall.startToCloseTimeout,
  retry: quickCall.retry,
};
export const localSmokeCall: LocalActivityOptions = {
  startToCloseTimeout: smokeCall.startToCloseTimeout,
  retry: smokeCall.retry,
};

/**
 * Events and notifications: a few quick attempts, then the run records the failure and goes
 * on. Started without being awaited by any step, so a sink that is down delays nothing but
 * the run's end, by at most ~35 s.
 */
export const announceCall: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '4s', maximumAttempts: 3 },
};

export const acts = proxyActivities<QuickSteps>(quickCall);
export const announcing = proxyActivities<Announces>(announceCall);
export const smoke = proxyActivities<Smokes>(smokeCall);
export const waits = proxyActivities<LongWaits>(longWait);
export const localActs = proxyLocalActivities<QuickSteps>(localQuickCall);
export const localSmoke = proxyLocalActivities<Smokes>(localSmokeCall);

// ---------------------------------------------------------------------------------------
// outage-budgets: one attempt per call; the workflow retries (retry-budgets.ts), so it knows
// every attempt and its error, tells on-call, and keeps the budget its era fixed.

const once = { maximumAttempts: 1 };

/** Single attempts, by option set, for the budgeted proxies. */
export const attempts = {
  quick: proxyActivities<QuickSteps>({ startToCloseTimeout: quickCall.startToCloseTimeout, retry: once }),
  localQuick: proxyLocalActivities<QuickSteps>({
    startToCloseTimeout: quickCall.startToCloseTimeout,
    retry: once,
  }),
  smoke: proxyActivities<Smokes>({ startToCloseTimeout: smokeCall.startToCloseTimeout, retry: once }),
  localSmoke: proxyLocalActivities<Smokes>({
    startToCloseTimeout: smokeCall.startToCloseTimeout,
    retry: once,
  }),
  waits: proxyActivities<LongWaits>({
    startToCloseTimeout: longWait.startToCloseTimeout,
    heartbeatTimeout: longWait.heartbeatTimeout,
    retry: once,
  }),
};

/** What a workflow calls its steps through: proxies of one era. */
export interface StepProxies {
  acts: QuickSteps;
  smoke: Smokes;
  waits: LongWaits;
}
