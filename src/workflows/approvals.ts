// Who decided: the updates a run waits for (approve, resume, rollback, revokeNow) take effect
// only for an identity an authority authenticated (docs/design.md "Who may decide"). With the
// inventory's approvals.authority `kubernetes` the handler reads the RotationDecisions of the
// run (an activity, recorded in history) and judges them (src/approvals/decisions.ts); a
// refusal fails the update with the reason and changes nothing. `any-temporal-client` takes
// the claimed `by` and records that nobody authenticated it.
import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import { judgeDecision, type DecisionWanted } from '../approvals/decisions';
import type { InventorySnapshot } from '../inventory/lookup';
import { acts } from './activities';
import { type UpdateArg } from './definitions';
import { AUTHENTICATED_BY_KUBERNETES } from './names';
import { type DecisionRecord } from './types';

/**
 * Who decided, as steps, messages and the update's answer name them: the identities Kubernetes
 * authenticated, with the name the client claimed; where no authority authenticates anyone
 * (any-temporal-client, or approve: true in the input) the claimed name alone, as before (the
 * status's `decisions` records the authority).
 */
export function decisionText(d: DecisionRecord): string | undefined {
  if (d.authority !== 'kubernetes' || !d.users.length) return d.claimedBy;
  const claimed = d.claimedBy && !(d.users.length === 1 && d.users[0] === d.claimedBy);
  return `${d.users.join(' and ')} (${AUTHENTICATED_BY_KUBERNETES}${d.selfApproved ? '; self-approved, allowed by approvals.allowSelfApproval' : ''}${claimed ? `; claimed: ${d.claimedBy}` : ''})`;
}

/** An update's arg as the run records it: `by` says who decided (decisionText). */
export function decidedArg(record: DecisionRecord): UpdateArg {
  const by = decisionText(record);
  return { ...(by ? { by } : {}), ...(record.reason ? { reason: record.reason } : {}) };
}

/**
 * One per run: decides each update against the run's decisions, each decision object
 * answering one update only (a resume for the first pause does not answer the second).
 */
export class DecisionGate {
  private readonly used: string[] = [];
  readonly records: DecisionRecord[] = [];

  /** `approvals`: the inventory's, or undefined where the run has not loaded it (a continued grace wait). */
  constructor(
    private readonly approvals: () => InventorySnapshot['approvals'] | undefined,
    private readonly target: () => string,
  ) {}

  /** The record of an authorized decision, or a failure (the update fails; the run keeps waiting). */
  async authorize(action: DecisionWanted['action'], arg: UpdateArg | undefined): Promise<DecisionRecord> {
    const approvals = this.approvals() ?? (await acts.inventorySnapshot()).approvals;
    const base = {
      action,
      at: new Date().toISOString(),
      ...(arg?.by ? { claimedBy: arg.by } : {}),
      ...(arg?.reason ? { reason: arg.reason } : {}),
    };
    if (approvals.authority === 'any-temporal-client') {
      const record: DecisionRecord = { ...base, authority: 'any-temporal-client', users: [] };
      this.records.push(record);
      return record;
    }
    const info = workflowInfo();
    const run = { workflowId: info.workflowId, runId: info.firstExecutionRunId };
    // The activity returns the run's own decisions and the judgement uses only those (the run's
    // IDs only in messages), so a replay judges exactly as the run did.
    const verdict = judgeDecision(
      await acts.readDecisions(run),
      { ...run, action, target: this.target() },
      { allowSelfApproval: approvals.allowSelfApproval, used: this.used },
    );
    if (!verdict.ok) throw ApplicationFailure.nonRetryable(verdict.message, 'NotAuthorized');
    this.used.push(...verdict.decisions);
    const record: DecisionRecord = {
      ...base,
      authority: 'kubernetes',
      users: verdict.users,
      decisions: verdict.decisions,
      ...(verdict.starter ? { starter: verdict.starter } : {}),
      ...(verdict.selfApproved ? { selfApproved: true } : {}),
    };
    this.records.push(record);
    return record;
  }
}

/**
 * `approve: true` in the input: only where the inventory allows it (approvals.allowInputApproval),
 * else InvalidInput before anything changed.
 */
export function inputApproval(approvals: InventorySnapshot['approvals']): DecisionRecord {
  if (!approvals.allowInputApproval)
    throw ApplicationFailure.nonRetryable(
      'approve: true in the input (or a pre-approved schedule) is refused: the inventory does not allow it ' +
        '(approvals.allowInputApproval is false); start without approve and have an authorized identity ' +
        'approve the run (rotator approve <workflowId>)',
      'InvalidInput',
    );
  return {
    action: 'approve',
    at: new Date().toISOString(),
    authority: approvals.authority,
    users: [],
    claimedBy: 'input (approve: true, allowed by approvals.allowInputApproval)',
  };
}
