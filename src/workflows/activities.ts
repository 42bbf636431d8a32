// Activity proxies with named option sets: each says how long a kind of call may take
// and how often it is retried before the workflow sees the failure.
import {
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';

/** Reads and writes against the apiserver or the admin API: fast, retried a few times. */
export const quickCall: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '15s', maximumAttempts: 5 },
};

/** Policy conformance: a fresh key may need a moment to reach every node. */
export const smokeCall: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
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

export const acts = proxyActivities<Activities>(quickCall);
export const announcing = proxyActivities<Pick<Activities, 'announce'>>(announceCall);
export const smoke = proxyActivities<Activities>(smokeCall);
export const waits = proxyActivities<Activities>(longWait);
export const localActs = proxyLocalActivities<Activities>(localQuickCall);
export const localSmoke = proxyLocalActivities<Activities>(localSmokeCall);
