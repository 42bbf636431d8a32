// RotateZone's wait between the switch and the revocation of the previous key: the grace
// period, then as long as pods started before the switch still reference the Secret — but
// never longer than maxGrace, and never in one ever-growing history.
import { allHandlersFinished, condition, workflowInfo } from '@temporalio/workflow';
import type { Strategy } from '../inventory/schema';
import type { QuickSteps } from './activities';
import { type UpdateArg } from './definitions';
import { UPDATE } from './names';
import { type Runbook } from './runbook';
import { WAIT } from './summaries';
import { type GraceWaitState, type RotateZoneInput } from './inputs';
import { type Escalation } from './types';

// The pod check interval (doubling from podPollStartMs to podPollMaxMs) and the checks per run
// before the wait continues as new (pollsPerRun: about 8 hours at the longest interval and a few
// hundred history events, far below the server's limits) are the run's era's (run-constants.ts).

/** What the revocation needs, from the run that rotated or from the one it continued as. */
export interface Rotation {
  strategy: Strategy;
  /** The previous key's access-key ID (absent in a grace wait continued before outage-budgets). */
  previousAccessKey?: string;
  previousFingerprint: string;
  pendingFingerprint: string;
  /** When the Secret was switched: pods started before it may hold the previous key. */
  promotedAt: string;
  restarted: string[];
  /** The rotating run: how long to wait. */
  grace?: { graceMs: number; maxGrace: string; maxGraceMs: number };
  /** A continued run: where the wait stands. */
  resume?: GraceWaitState;
}

export type GraceWaitOutcome = { escalation?: Escalation } | { continueWith: RotateZoneInput };

/** The last step a run records before it continues its grace wait as a new run. */
export const continueStepName = (generation: number): string =>
  `continue the grace wait as a new run (generation ${generation})`;

/** What a run knows of how it was started (workflowInfo()). */
export interface RunOrigin {
  continuedFromExecutionRunId?: string;
  attempt: number;
  lastFailure?: unknown;
  lastResult?: unknown;
}

/**
 * Why a run's `continued` state cannot have been handed over by a RotateZone continuing its
 * grace wait as new; undefined when it can. Only the server sets continuedFromExecutionRunId,
 * and only for a run's own continue-as-new, a retry or a cron run: a retry or cron run of a
 * client's start (which always fails here first) carries that failure or an attempt above 1.
 * The state must also read like the one boundedGraceWait hands over.
 */
export function forgedContinuation(state: GraceWaitState, run: RunOrigin): string | undefined {
  const refused =
    '"continued" is the state a RotateZone run hands to the run it continues as new, never an input: ';
  const instead =
    'start RotateZone with {"zone": "<zone>"} to rotate; `rotator revoke-now rotate-zone-<zone>` ends a grace wait early';
  if (!run.continuedFromExecutionRunId)
    return `${refused}this run was started by a client, not continued as new (${instead})`;
  if (run.attempt > 1 || run.lastFailure !== undefined || run.lastResult !== undefined)
    return `${refused}this run is a retry or cron run of a client's start, not a continued grace wait (${instead})`;
  // Unchecked when a pre-strict-inputs run replays: read defensively.
  const steps: unknown[] = Array.isArray(state.steps) ? state.steps : [];
  const last = steps[steps.length - 1] as { name?: unknown } | undefined;
  if (state.generation < 2 || last?.name !== continueStepName(state.generation))
    return `${refused}its steps do not end with "${continueStepName(state.generation)}" (${instead})`;
  if (!(Date.parse(state.graceUntil) <= Date.parse(state.boundUntil)))
    return `${refused}its graceUntil ${state.graceUntil} is after its boundUntil ${state.boundUntil} (${instead})`;
  return undefined;
}

/** A continued run's status starts where the previous run's ended. */
export function resumeGraceWait(rb: Runbook, state: GraceWaitState): Rotation {
  rb.status.fingerprints.previous = state.previousFingerprint;
  rb.status.fingerprints.pending = state.pendingFingerprint;
  rb.status.fingerprints.current = state.pendingFingerprint;
  rb.status.steps.push(...state.steps);
  return {
    strategy: state.strategy,
    ...(state.previousAccessKey ? { previousAccessKey: state.previousAccessKey } : {}),
    previousFingerprint: state.previousFingerprint,
    pendingFingerprint: state.pendingFingerprint,
    promotedAt: state.promotedAt,
    restarted: state.restarted,
    resume: state,
  };
}

/**
 * Waits until the previous key may be revoked: revokeNow, or grace over and no pod started
 * before the switch still running, or maxGrace reached (escalation: the caller revokes
 * anyway, naming the pods). Hands back the input of the next run when this one has polled
 * long enough.
 */
export async function boundedGraceWait(
  rb: Runbook,
  r: Rotation,
  zone: string,
  revokeNow: () => UpdateArg | undefined,
  acts: QuickSteps,
): Promise<GraceWaitOutcome> {
  const startedAt = Date.now();
  const state: GraceWaitState = r.resume ?? {
    strategy: r.strategy,
    ...(r.previousAccessKey && rb.retryBudgets ? { previousAccessKey: r.previousAccessKey } : {}),
    previousFingerprint: r.previousFingerprint,
    pendingFingerprint: r.pendingFingerprint,
    promotedAt: r.promotedAt,
    graceUntil: new Date(startedAt + r.grace!.graceMs).toISOString(),
    boundUntil: new Date(startedAt + r.grace!.maxGraceMs).toISOString(),
    maxGrace: r.grace!.maxGrace,
    restarted: r.restarted,
    steps: [],
    generation: 1,
  };
  const graceUntil = Date.parse(state.graceUntil);
  const boundUntil = Date.parse(state.boundUntil);
  const asked = () => revokeNow() !== undefined;
  const bound = `at most until ${state.boundUntil} (maxGrace ${state.maxGrace})`;

  rb.setPhase(
    'waiting-grace',
    Date.now() < graceUntil
      ? `previous key stays valid until ${state.graceUntil} (grace), then while pods started before the switch still run, ${bound}`
      : `previous key stays valid while pods started before the switch still run, ${bound}`,
    [UPDATE.revokeNow],
  );
  if (Date.now() < graceUntil) await condition(asked, graceUntil - Date.now(), { summary: WAIT.grace });

  // A continued run has waited a while already: the pods it waits for are slow ones.
  const { podPollStartMs, podPollMaxMs, pollsPerRun } = rb.constants;
  let pollMs = r.resume ? podPollMaxMs : podPollStartMs;
  for (let polls = 1; !asked(); polls++) {
    const holders = await rb.step(
      'check pods still holding the previous key',
      () => acts.podsHoldingPrevious(zone, state.promotedAt),
      (p) => (p.length ? p.join(', ') : 'none'),
    );
    mergeWithPreviousCheck(rb);
    if (!holders.length) break;
    if (Date.now() >= boundUntil) {
      const escalation: Escalation = {
        kind: 'grace-bound',
        at: new Date().toISOString(),
        pods: holders,
        message:
          `maxGrace ${state.maxGrace} reached while ${holders.length} pod(s) started before the switch still reference the Secret ` +
          `(${holders.join(', ')}): the previous key is revoked anyway, so they fail on their next call with it — ` +
          'find out why they outlived maxGrace, then restart or delete them',
      };
      rb.status.escalation = escalation;
      rb.setPhase('escalated');
      rb.announcer.send([], {
        kind: 'escalated',
        title: `RotateZone zone ${zone} escalated: maxGrace ${state.maxGrace} reached`,
        text: escalation.message,
        commands: [`rotator status ${workflowInfo().workflowId}`],
      });
      return { escalation };
    }
    if (polls >= pollsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      if (asked()) break;
      const now = new Date().toISOString();
      rb.status.steps.push({
        name: continueStepName(state.generation + 1),
        state: 'done',
        startedAt: now,
        endedAt: now,
        detail: `${polls} pod checks in this run`,
      });
      return {
        continueWith: {
          zone,
          continued: {
            ...state,
            steps: rb.status.steps,
            generation: state.generation + 1,
            // The budgets this rotation resolved when it started travel with it.
            ...(rb.retryBudgets ? { retries: rb.retryBudgets } : {}),
          },
        },
      };
    }
    rb.setPhase(
      'waiting-grace',
      `previous key stays valid while ${holders.length} pod(s) started before the switch still run: ${holders.slice(0, 5).join(', ')}; ${bound}`,
      [UPDATE.revokeNow],
    );
    await condition(asked, Math.min(pollMs, boundUntil - Date.now()), { summary: WAIT.gracePoll });
    pollMs = Math.min(pollMs * 2, podPollMaxMs);
  }
  rb.setPhase('running');
  return {};
}

/** One status line for the whole series of pod checks, not hundreds. */
function mergeWithPreviousCheck(rb: Runbook): void {
  const steps = rb.status.steps;
  const [before, last] = steps.slice(-2);
  if (!before || !last || before.name !== last.name) return;
  last.startedAt = before.startedAt;
  steps.splice(steps.length - 2, 1);
}
