// Changes to workflow code that would alter the commands of runs already in flight (and of
// the histories committed under test/replay) are gated by patched(): old runs replay the
// old sequence, new runs take the new one.
import { patched } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { acts, localActs, localSmoke, smoke } from './activities';

/**
 * v2 of the zone runbook (RotateZone, BootstrapCluster): short steps run as local
 * activities; no timer at grace 0; no sleep to the next whole second before restarting
 * consumers (pods are told apart by their restartedAt annotation instead); a
 * `rotate: true` bootstrap leaves identity and smoke of existing zones to the RotateZone
 * children, which do both.
 */
export const ZONE_RUNBOOK_V2 = 'zone-runbook-v2';

/**
 * v2 of compensation (Runbook): an undo runs only when the undos it depends on succeeded,
 * the pending record is kept when any failed, a key is deleted only when no pod that could
 * hold it runs, and a cancel undoes the run (non-cancellable) and ends CANCELED.
 */
export const COMPENSATION_V2 = 'compensation-v2';

export interface StepCalls {
  v2: boolean;
  acts: Activities;
  smoke: Activities;
}

/** Call at the very start of a workflow, before its first command. */
export function zoneRunbookCalls(): StepCalls {
  const v2 = patched(ZONE_RUNBOOK_V2);
  return v2 ? { v2, acts: localActs, smoke: localSmoke } : { v2, acts, smoke };
}

/**
 * Where a run passes its point of no return (RotateZone's revocation), compensation-v2 calls a
 * regular activity: its schedule is in the history before it runs. A local activity's result is
 * recorded only when its workflow task completes; a cancel arriving meanwhile fails that task,
 * and the run would replay without the call and undo a rotation whose previous key it revoked.
 */
export function durableCalls(calls: StepCalls): Activities {
  return patched(COMPENSATION_V2) ? acts : calls.acts;
}
