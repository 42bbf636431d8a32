// Every message a person can send a workflow, defined once and imported by the
// workflows and the CLI alike.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { UPDATE } from './names';
import { type WorkflowStatus } from './types';

export const statusQuery = defineQuery<WorkflowStatus>('status');

/** RotateRoot: let the root rotation proceed past its approval gate. */
export const approveUpdate = defineUpdate<string, [UpdateArg]>(UPDATE.approve);
/** RotateRoot while paused: wait another restart window. */
export const resumeUpdate = defineUpdate<string, [UpdateArg]>(UPDATE.resume);
/** RotateRoot while paused: restore the previous root and restart the store with it. */
export const rollbackUpdate = defineUpdate<string, [UpdateArg]>(UPDATE.rollback);
/** RotateZone while waiting out the grace period: revoke the previous key now. */
export const revokeNowUpdate = defineUpdate<string, [UpdateArg]>(UPDATE.revokeNow);
/**
 * Any run while a step keeps failing (outage-budgets): stop retrying it; the step fails now with
 * its last error. Grants nothing a cancel or terminate does not: a run only ends sooner.
 */
export const stopRetryingUpdate = defineUpdate<string, [UpdateArg]>(UPDATE.stopRetrying);

export interface UpdateArg {
  by?: string;
  reason?: string;
}

/** Search attributes registered on the server (the sandbox does it with start-dev). */
export const SEARCH_ATTRIBUTE_ZONE = 'RotatorZone';
export const SEARCH_ATTRIBUTE_KIND = 'RotatorKind';

/** Memo field with how a canceled run ended (shown by the Web UI and `rotator history`). */
export const MEMO_OUTCOME = 'outcome';
