// The one definition of what each workflow accepts as input. The workflows validate what
// they are started with (CLI, Web UI's Start Workflow form, schedules, children) and the
// CLI validates the object it builds from flags, so every entry point gets the same
// InvalidInput message. Pure and deterministic: it runs inside the workflow bundle.
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from '../inventory/duration';
import { closest } from '../inventory/lookup';
import {
  durationBoundHint,
  isZoneName,
  ROOT_STRATEGIES,
  STRATEGIES,
  withinDurationBound,
  ZONE_NAME_HINT,
  type BoundedDuration,
} from '../inventory/schema';
import { STEP_KINDS, type StepKind } from './run-constants';
import { type StepRecord, type WorkflowType } from './types';

export const MAX_PARALLELISM = 64;

const flag = z.boolean({ error: (i) => `expected true or false, got ${describe(i.input)}` });

const durationText = (opts: { allowZero: boolean }) =>
  z.string({ error: (i) => `expected ${DURATION_HINT}, got ${describe(i.input)}` }).refine(
    (text) => {
      const ms = parseDuration(text);
      return ms !== undefined && (opts.allowZero || ms > 0);
    },
    {
      error: (i) =>
        `expected ${opts.allowZero ? '' : 'a non-zero '}${DURATION_HINT.replace(/^a /, '')}, got ${describe(i.input)}`,
    },
  );

/**
 * Marks an issue as a bound (src/inventory/schema.ts, "Bounds"): refused since patch
 * bounded-inputs, so a run started before it with such an input replays as it ran.
 */
const BOUND = { bound: true } as const;
export const isBoundIssue = (iss: z.core.$ZodIssue): boolean =>
  iss.code === 'custom' && (iss.params as { bound?: unknown } | undefined)?.bound === true;

/** A duration with its upper bound: "expected at most 30d (...), got the string "3650d"". */
const duration = (opts: { allowZero: boolean; bound: BoundedDuration }) =>
  durationText(opts).refine((text) => withinDurationBound(opts.bound, text), {
    params: BOUND,
    error: (i) => `expected ${durationBoundHint(opts.bound)}, got ${describe(i.input)}`,
  });

const strategy = z.enum(STRATEGIES, {
  error: (i) => `expected one of ${STRATEGIES.map((s) => `"${s}"`).join(', ')}, got ${describe(i.input)}`,
});

export const bootstrapInputSchema = z.strictObject({
  /** Read only: return the plan of what would be created, patched and restarted. */
  dryRun: flag.optional(),
  /** Also rotate every zone's key afterwards (RotateZone children), as `make rbac-bootstrap` does. */
  rotate: flag.optional(),
  /** Zones handled at once (1–64, default 8); RotateZone children too with `rotate`. */
  parallelism: z
    .number({
      error: (i) => `expected a whole number from 1 to ${MAX_PARALLELISM}, got ${describe(i.input)}`,
    })
    .refine((n) => Number.isInteger(n) && n >= 1 && n <= MAX_PARALLELISM, {
      error: (i) => `expected a whole number from 1 to ${MAX_PARALLELISM}, got ${describe(i.input)}`,
    })
    .optional(),
});

const fingerprint = z
  .string()
  .regex(/^sha256:[0-9a-f]{12}$/, { error: 'expected a fingerprint sha256:<12 hex>' });
const instant = z.iso.datetime({ error: 'expected an ISO 8601 instant' });
const stepRecord: z.ZodType<StepRecord> = z.strictObject({
  name: z.string(),
  state: z.enum(['running', 'done', 'failed', 'compensated', 'skipped']),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  detail: z.string().optional(),
  error: z.string().optional(),
});

const ms = z.number().int().min(0);
const stepBudget = z.strictObject({ budgetMs: ms, initialMs: ms, maxIntervalMs: ms });
/** The retry budgets a rotation resolved when it started (run-constants.ts). */
const retryBudgets = z.strictObject({
  steps: z.strictObject(
    Object.fromEntries(STEP_KINDS.map((k) => [k, stepBudget])) as Record<StepKind, typeof stepBudget>,
  ),
  escalateAfterMs: ms,
});

/**
 * What a RotateZone run hands to the run it continues as new while waiting out the grace
 * period: the rotation is done (the new key is in the Secret and verified); the next run only
 * waits and revokes. Internal: written by the workflow itself, never by a person.
 */
export const graceWaitStateSchema = z.strictObject({
  strategy: strategy,
  previousFingerprint: fingerprint,
  pendingFingerprint: fingerprint,
  /** When the Secret was switched: pods started before it may hold the previous key. */
  promotedAt: instant,
  /** Until when the previous key stays valid regardless of pods (grace). */
  graceUntil: instant,
  /** When the wait ends whatever the pods (maxGrace): the run revokes and escalates. */
  boundUntil: instant,
  // Not bounded here: a rotation started before bounded-inputs hands over its own maxGrace,
  // and a continued run's state is checked for provenance instead (grace-wait.ts).
  maxGrace: durationText({ allowZero: false }),
  restarted: z.array(z.string()),
  /** The earlier runs' steps, so the status query keeps the whole story. */
  steps: z.array(stepRecord),
  /** How many runs of this rotation continued as new before this one. */
  generation: z.number().int().min(1),
  /** The previous key's access-key ID, for a failure that leaves it valid (since outage-budgets). */
  previousAccessKey: z.string().optional(),
  /** The rotation's retry budgets (since outage-budgets). */
  retries: retryBudgets.optional(),
});

export const rotateZoneInputSchema = z
  .strictObject({
    zone: z
      .string({
        error: (i) =>
          i.input === undefined ? 'is required' : `expected a zone name, got ${describe(i.input)}`,
      })
      .min(1, { error: 'expected a zone name, got an empty string' })
      .refine((name) => name === '' || isZoneName(name), {
        params: BOUND,
        error: (i) => `expected ${ZONE_NAME_HINT}, got ${describe(i.input)}`,
      }),
    dryRun: flag.optional(),
    /** Overrides the inventory's strategy for this run. */
    strategy: strategy.optional(),
    /** Overrides the inventory's grace for this run, e.g. "0s" or "30m". */
    grace: duration({ allowZero: true, bound: 'grace' }).optional(),
    /** Overrides the inventory's maxGrace: the longest the previous key waits for old pods. */
    maxGrace: duration({ allowZero: false, bound: 'maxGrace' }).optional(),
    /** Internal: set by the run that continued as new during the grace wait. */
    continued: graceWaitStateSchema.optional(),
  })
  .superRefine((input, ctx) => {
    if (!input.continued) return;
    const extra = Object.keys(input).filter((k) => k !== 'zone' && k !== 'continued');
    if (extra.length)
      ctx.addIssue({
        code: 'custom',
        path: [extra[0]!],
        message: 'not accepted with "continued" (a continued run only finishes the grace wait)',
      });
  });

export const rotateRootInputSchema = z.strictObject({
  dryRun: flag.optional(),
  /** Skip the approval gate (the CLI's --approve). */
  approve: flag.optional(),
  /** Override the inventory's store.restartTimeout / pauseTimeout, e.g. "45s". */
  restartTimeout: duration({ allowZero: false, bound: 'restartTimeout' }).optional(),
  pauseTimeout: duration({ allowZero: false, bound: 'pauseTimeout' }).optional(),
  /** How long to wait for the `approve` update before giving up (nothing changed). Default 24h. */
  approvalTimeout: duration({ allowZero: false, bound: 'approvalTimeout' }).optional(),
  /** How the store's pods restart (the CLI's --strategy); default store.rootStrategy, else from preflight. */
  strategy: z
    .enum(ROOT_STRATEGIES, {
      error: 'expected "rolling" (one store pod at a time) or "all-at-once" (every store pod together)',
    })
    .optional(),
});

export type BootstrapInput = z.infer<typeof bootstrapInputSchema>;
export type RotateZoneInput = z.infer<typeof rotateZoneInputSchema>;
export type RotateRootInput = z.infer<typeof rotateRootInputSchema>;
export type GraceWaitState = z.infer<typeof graceWaitStateSchema>;

export interface WorkflowInputs {
  BootstrapCluster: BootstrapInput;
  RotateZone: RotateZoneInput;
  RotateRoot: RotateRootInput;
}

const schemas: { [W in WorkflowType]: z.ZodType<WorkflowInputs[W]> } = {
  BootstrapCluster: bootstrapInputSchema,
  RotateZone: rotateZoneInputSchema,
  RotateRoot: rotateRootInputSchema,
};

/** Keys a person may write; `continued` is the workflow's own and not offered. */
const INTERNAL_KEYS = new Set(['continued']);
const shapes = {
  BootstrapCluster: bootstrapInputSchema.shape,
  RotateZone: rotateZoneInputSchema.shape,
  RotateRoot: rotateRootInputSchema.shape,
};
const knownInputKeys = (workflow: WorkflowType): string[] =>
  Object.keys(shapes[workflow]).filter((k) => !INTERNAL_KEYS.has(k));
const NESTED_KEYS: Record<string, string[]> = { continued: Object.keys(graceWaitStateSchema.shape) };

export type InputCheck<W extends WorkflowType> =
  | { ok: true; input: WorkflowInputs[W] }
  | {
      ok: false;
      message: string;
      field: string;
      /** Every problem is an upper bound (a value that was accepted before bounded-inputs). */
      boundsOnly?: true;
    };

/**
 * Checks a workflow's input. `undefined` means "no input" (the Web UI's empty form) and is
 * the same as `{}` for the workflows that need nothing.
 */
export function checkWorkflowInput<W extends WorkflowType>(workflow: W, raw: unknown): InputCheck<W> {
  const value = raw === undefined && workflow !== 'RotateZone' ? {} : raw;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const example = workflow === 'RotateZone' ? '{"zone": "<zone name>"}' : '{"dryRun": true}';
    return {
      ok: false,
      field: '',
      message: `${workflow} takes one JSON object like ${example}, got ${describe(value)}`,
    };
  }
  const parsed = schemas[workflow].safeParse(value);
  if (parsed.success) return { ok: true, input: parsed.data };
  const problems = parsed.error.issues.flatMap((iss) => issueText(workflow, iss));
  const first = problems[0]!;
  return {
    ok: false,
    field: first.field,
    message: `${workflow} input: ${problems.map((p) => p.text).join('; ')}`,
    ...(parsed.error.issues.every(isBoundIssue) ? { boundsOnly: true as const } : {}),
  };
}

function issueText(workflow: WorkflowType, iss: z.core.$ZodIssue): Array<{ field: string; text: string }> {
  const at = iss.path.map(String).join('.');
  if (iss.code === 'unrecognized_keys') {
    const known = at ? (NESTED_KEYS[at] ?? []) : knownInputKeys(workflow);
    return iss.keys.map((key) => {
      const field = at ? `${at}.${key}` : key;
      const hint = closest(key, known);
      return {
        field,
        text: `unknown key "${field}"${hint ? ` (did you mean "${hint}"?)` : ''}; known keys: ${known.join(', ')}`,
      };
    });
  }
  if (!at) return [{ field: '', text: iss.message }];
  return [{ field: at, text: `"${at}" ${iss.message}` }];
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
