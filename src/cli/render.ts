// Human renderings shared by several commands: results, plans, status.
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { FAILURE } from '../workflows/names';
import { type Plan, type StepRecord, type WorkflowResult, type WorkflowStatus } from '../workflows/types';
import { CliError, clock, EXIT, ms, table } from './output';

export function renderPlan(plan: Plan): string {
  const head = `Plan: ${plan.workflow}${plan.zone ? ` zone ${plan.zone}` : ''}${plan.strategy ? ` (strategy ${plan.strategy})` : ''}`;
  const rows = plan.actions.map((a, i) => [`${i + 1}.`, a.action, a.target, a.detail]);
  return [
    head,
    table(rows),
    `Expected downtime: ${plan.expectedDowntime}`,
    ...plan.notes.map((n) => `Note: ${n}`),
  ].join('\n');
}

export function renderResult(r: WorkflowResult): string {
  const lines = [`${r.workflow}: ${r.outcome} — ${r.summary}`];
  if (r.plan) lines.push(renderPlan(r.plan));
  if (r.zones.length) {
    lines.push(
      table([
        ['zone', 'strategy', 'key', 'restarted', 'revoked', 'smoke'],
        ...r.zones.map((z) => [
          z.zone,
          z.strategy,
          z.previousFingerprint && z.newFingerprint
            ? `${z.previousFingerprint} → ${z.newFingerprint}`
            : (z.newFingerprint ?? '-'),
          z.restarted.length ? z.restarted.join(', ') : '-',
          z.revoked ?? '-',
          z.smoke,
        ]),
      ]),
    );
  }
  for (const z of r.zones)
    if (z.escalation) lines.push(`ESCALATED (zone ${z.zone}): ${z.escalation.message}`);
  if (r.root) {
    lines.push(
      `root: ${r.root.previousFingerprint ?? '?'} → ${r.root.newFingerprint ?? '?'}` +
        (r.root.storeDowntimeMs !== undefined ? ` (store down ${ms(r.root.storeDowntimeMs)})` : '') +
        (r.root.rollMs !== undefined ? ` (rolling: one pod at a time for ${ms(r.root.rollMs)})` : ''),
    );
    if (r.root.zoneKeysRefusedMs !== undefined)
      lines.push(
        `zone keys refused for ${ms(r.root.zoneKeysRefusedMs)} (the store lost IAM on the root change; zones re-created)`,
      );
  }
  return lines.join('\n');
}

const MARK: Record<StepRecord['state'], string> = {
  running: '…',
  done: '✓',
  failed: '✗',
  compensated: '↺',
  skipped: '-',
};

export function stepDuration(s: StepRecord): number | undefined {
  return s.endedAt ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : undefined;
}

export function renderStep(s: StepRecord): string {
  const d = stepDuration(s);
  // Step times are the workflow's clock, which stands still within one workflow task: local
  // steps that ran in the same task show no duration (`history` has each one's own).
  return `${clock(s.startedAt)} ${MARK[s.state]} ${s.name}${s.detail ? ` — ${s.detail}` : ''}${s.error ? ` — ${s.error}` : ''}${d ? ` (${ms(d)})` : ''}`;
}

/** What on-call can do in a phase, as commands. */
export function nextActions(id: string, status: Pick<WorkflowStatus, 'awaiting'>): string[] {
  const cmd: Record<string, string> = {
    approve: `rotator approve ${id} --by <you> --reason <why>`,
    resume: `rotator resume ${id} --by <you>   (wait another restart window)`,
    rollback: `rotator rollback ${id} --by <you>   (restore the previous root)`,
    revokeNow: `rotator revoke-now ${id} --by <you>   (end the grace period now)`,
  };
  return (status.awaiting ?? []).map((a) => cmd[a] ?? a);
}

export function renderStatus(
  id: string,
  s: WorkflowStatus,
  run?: { status: string; startTime?: Date; closeTime?: Date },
): string {
  const lines = [
    `${s.workflow} ${id}${s.zone ? ` (zone ${s.zone})` : ''}`,
    `  execution: ${run?.status ?? '?'}${run?.startTime ? `, started ${run.startTime.toISOString()}` : ''}${run?.closeTime ? `, closed ${run.closeTime.toISOString()}` : ''}`,
    `  phase:     ${s.phase}${s.step ? ` — step: ${s.step}` : ''}`,
  ];
  const f = s.fingerprints;
  if (f.previous || f.pending || f.current) {
    lines.push(
      `  keys:      previous ${f.previous ?? '-'}, new ${f.pending ?? '-'}, Secret now ${f.current ?? '-'}`,
    );
  }
  if (s.workPools?.length) lines.push(...s.workPools.map((p) => `  ${p}`));
  if (s.pauseReason) lines.push(`  waiting:   ${s.pauseReason}`);
  if (s.escalation) lines.push(`  ESCALATED: ${s.escalation.message}`);
  for (const r of s.retrying ?? []) {
    lines.push(
      `  RETRYING:  ${r.step} (${r.activity}): ${r.attempts} failed attempt(s) since ${r.since}${r.escalated ? ', people told' : ''}`,
      `             last error: ${r.lastError}`,
      `             next attempt ${r.nextAttemptAt ?? 'now'}; gives up at ${r.givesUpAt} (${r.kind} budget)`,
      `             ${r.advice}`,
      `             stop retrying: rotator stop-retrying ${id} --by <you> --reason <why>`,
    );
  }
  const next = nextActions(id, s);
  if (next.length) lines.push('  answer with:', ...next.map((n) => `    ${n}`));
  if (s.onCancel) lines.push(`  on cancel: ${s.onCancel}`);
  if (s.summary) lines.push(`  outcome:   ${s.summary}`);
  if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  if (s.compensationErrors.length) lines.push(`  COMPENSATION FAILED: ${s.compensationErrors.join('; ')}`);
  if (s.steps.length) lines.push('  steps:', ...s.steps.map((st) => `    ${renderStep(st)}`));
  return lines.join('\n');
}

/** The innermost message of a failure chain: what actually went wrong. */
export function rootCause(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  const seen: string[] = [];
  while (e) {
    if (e.message) seen.push(e.message);
    e = e.cause as typeof e;
  }
  return seen.at(-1) ?? String(err);
}

/** A failed run as a CliError (exit 3) pointing at the history command. */
export function workflowFailure(err: unknown, id: string): CliError {
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause as { message?: string; type?: string } | undefined;
    return new CliError(
      `${id} ${err.cause instanceof CancelledFailure ? 'was canceled' : cause?.type === FAILURE.rolledBack ? 'was rolled back' : 'failed'}: ${cause?.message ?? rootCause(err)}\n` +
        `  inspect: rotator history ${id}`,
      EXIT.workflowFailed,
    );
  }
  return err instanceof CliError ? err : new CliError(rootCause(err), EXIT.error);
}
