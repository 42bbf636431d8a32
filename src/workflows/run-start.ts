// How a run begins: its input checked, a forged continuation refused, and the proxies its
// steps are called through, each decided by the run's patches (patches.ts).
import { workflowInfo } from '@temporalio/workflow';
import { acts, attempts, localActs, localSmoke, smoke, type QuickSteps, type Smokes } from './activities';
import { invalidInput } from './errors';
import { forgedContinuation } from './grace-wait';
import { checkWorkflowInput, type RotateZoneInput, type WorkflowInputs } from './inputs';
import {
  BOUNDED_INPUTS,
  COMPENSATION_V2,
  OWN_CONTINUATION,
  STRICT_INPUTS,
  ZONE_RUNBOOK_V2,
  type PatchSet,
} from './patches';
import { budgeted } from './retry-budgets';
import { type Runbook } from './runbook';
import { type WorkflowType } from './types';

/** Call at the very start of a workflow, right after its PatchSet: its input, validated, or InvalidInput. */
export function strictInput<W extends WorkflowType>(
  patches: PatchSet,
  workflow: W,
  raw: unknown,
): WorkflowInputs[W] {
  const checked = checkWorkflowInput(workflow, raw);
  if (checked.ok) return checked.input;
  if (checked.boundsOnly) {
    if (patches.has(BOUNDED_INPUTS)) throw invalidInput(checked.message);
  } else if (patches.has(STRICT_INPUTS)) throw invalidInput(checked.message);
  return raw as WorkflowInputs[W];
}

/** Call right after strictInput in RotateZone, before any other command. */
export function refuseForgedContinuation(patches: PatchSet, input: RotateZoneInput): void {
  if (!input.continued) return;
  const forged = forgedContinuation(input.continued, workflowInfo());
  if (forged && patches.has(OWN_CONTINUATION)) throw invalidInput(forged);
}

export interface StepCalls {
  v2: boolean;
  acts: QuickSteps;
  smoke: Smokes;
}

/** Call at the very start of a workflow, before its first command (zone-runbook-v2). */
export function zoneRunbookCalls(patches: PatchSet): StepCalls {
  const v2 = patches.has(ZONE_RUNBOOK_V2);
  return v2 ? { v2, acts: localActs, smoke: localSmoke } : { v2, acts, smoke };
}

/**
 * Where a run passes its point of no return (RotateZone's revocation), compensation-v2 calls a
 * regular activity: its schedule is in the history before it runs. A local activity's result is
 * recorded only when its workflow task completes; a cancel arriving meanwhile fails that task,
 * and the run would replay without the call and undo a rotation whose previous key it revoked.
 * Since outage-budgets: a regular activity too, retried by the run within its budget.
 */
export function durableCalls(calls: StepCalls, rb: Runbook): QuickSteps {
  if (rb.retryBudgets) return budgeted(rb, attempts.quick, 'quick');
  return rb.patches.has(COMPENSATION_V2) ? acts : calls.acts;
}
