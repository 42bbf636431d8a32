// The waits, bounds and retry budgets that change what a run does, fixed per patch era: a run
// takes the values of the era it started in (the era's patch marker is in its history) and
// keeps them however many workers deploy after it. An era's values are never edited once
// deployed; a new value is a new era (a patch in patches.ts and an entry here), so only runs
// started after that deploy wait or retry differently. The inventory's `retries` overrides
// are read by the run's own "load inventory" step, so they are recorded in its history too.

/** The kinds of step a run retries, each with its own budget (docs/operating.md "While a step keeps failing"). */
export const STEP_KINDS = ['quick', 'smoke', 'wait', 'pastSwitch', 'compensation'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** How one kind of step is retried: backoff from `initialMs`, doubling up to `maxIntervalMs`, for `budgetMs`. */
export interface StepBudget {
  /** How long after its first failure a step may still start another attempt. */
  budgetMs: number;
  initialMs: number;
  maxIntervalMs: number;
}

/** Every kind's budget, and how long a step fails before a person is told. */
export interface RetryBudgets {
  steps: Record<StepKind, StepBudget>;
  escalateAfterMs: number;
}

export interface RunConstants {
  /** Undefined in the era before outage budgets: each step's own bounded retries (activities.ts). */
  budgets?: RetryBudgets;
  /** RotateZone's grace wait: the first pod check interval, doubling up to the longest. */
  podPollStartMs: number;
  podPollMaxMs: number;
  /** Pod checks per run before the grace wait continues as new. */
  pollsPerRun: number;
  /** After an undo's rollouts: the waits between checks for pods that could hold the new key. */
  undoPodChecksMs: readonly number[];
  /** How long consumers get to roll out before the rotation is undone. */
  rolloutTimeoutMs: number;
  /** RotateRoot's way back waits at least this long for the store on the previous root. */
  minRollbackWaitMs: number;
  /** RotateRoot waits this long for approval when its input does not say. */
  approvalTimeoutMs: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The values of runs started before outage-budgets (read from the code of that time). */
const BEFORE_OUTAGE_BUDGETS: RunConstants = {
  podPollStartMs: 15_000,
  podPollMaxMs: 5 * MINUTE,
  pollsPerRun: 100,
  undoPodChecksMs: [5_000, 10_000, 20_000, 40_000, 60_000],
  rolloutTimeoutMs: 10 * MINUTE,
  minRollbackWaitMs: 2 * MINUTE,
  approvalTimeoutMs: 24 * HOUR,
};

/**
 * outage-budgets: every step retries for as long as an outage of the apiserver or the store
 * plausibly lasts (an upgrade, a restart, a network partition), past the switch for hours,
 * and an undo until it succeeds or a person stops it; a person is told after 5 minutes.
 */
const OUTAGE_BUDGETS_ERA: RunConstants = {
  ...BEFORE_OUTAGE_BUDGETS,
  budgets: {
    steps: {
      quick: { budgetMs: 15 * MINUTE, initialMs: 1_000, maxIntervalMs: 30_000 },
      smoke: { budgetMs: 15 * MINUTE, initialMs: 2_000, maxIntervalMs: 30_000 },
      wait: { budgetMs: 30 * MINUTE, initialMs: 5_000, maxIntervalMs: MINUTE },
      pastSwitch: { budgetMs: 6 * HOUR, initialMs: 2_000, maxIntervalMs: 2 * MINUTE },
      compensation: { budgetMs: 24 * HOUR, initialMs: 2_000, maxIntervalMs: 2 * MINUTE },
    },
    escalateAfterMs: 5 * MINUTE,
  },
};

export const ERAS = { before: BEFORE_OUTAGE_BUDGETS, outageBudgets: OUTAGE_BUDGETS_ERA } as const;

/** The inventory's `retries` overrides (src/inventory/retries.ts), in milliseconds. */
export type RetryOverrides = Partial<Record<StepKind | 'escalateAfter', number>>;

/** An era's budgets with the inventory's overrides applied (each within its bounds already). */
export function withOverrides(budgets: RetryBudgets, o: RetryOverrides | undefined): RetryBudgets {
  if (!o) return budgets;
  const steps = { ...budgets.steps };
  for (const kind of STEP_KINDS) {
    const ms = o[kind];
    if (ms !== undefined) steps[kind] = { ...steps[kind], budgetMs: ms };
  }
  return { steps, escalateAfterMs: o.escalateAfter ?? budgets.escalateAfterMs };
}
