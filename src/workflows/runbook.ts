// The bookkeeping every workflow shares: the status on-call queries, the Web UI's
// current details, the step log, and the compensation stack. Deterministic only.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  ApplicationFailure,
  ContinueAsNew,
  log,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { SEARCH_ATTRIBUTE_KIND, SEARCH_ATTRIBUTE_ZONE, statusQuery } from './definitions';
import { type Phase, type StepRecord, type WorkflowStatus, type WorkflowType } from './types';

const zoneKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE_ZONE, SearchAttributeType.KEYWORD);
const kindKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE_KIND, SearchAttributeType.KEYWORD);

export function errorMessage(err: unknown): string {
  if (err instanceof ApplicationFailure || err instanceof Error) {
    // An ActivityFailure wraps the real cause; on-call wants the cause.
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}

export function errorType(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown }).cause ?? err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** Failures already shaped by Runbook.failure(): not wrapped a second time. */
const final = new WeakSet<object>();

interface Compensation {
  name: string;
  run: () => Promise<unknown>;
}

export class Runbook {
  readonly status: WorkflowStatus;
  private compensations: Compensation[] = [];

  constructor(workflow: WorkflowType, zone?: string) {
    this.status = {
      workflow,
      phase: 'starting',
      step: null,
      zone,
      fingerprints: {},
      steps: [],
      compensationErrors: [],
    };
    setHandler(statusQuery, () => this.status);
    upsertSearchAttributes([
      { key: kindKey, value: workflow },
      ...(zone ? [{ key: zoneKey, value: zone }] : []),
    ]);
    this.publish();
  }

  setPhase(phase: Phase, pauseReason?: string, awaiting?: string[]): void {
    this.status.phase = phase;
    this.status.pauseReason = pauseReason;
    this.status.awaiting = awaiting;
    this.publish();
  }

  /** Runs one step of the runbook, recording it for the status query and the Web UI. */
  async step<T>(name: string, run: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    if (this.status.phase === 'starting') this.status.phase = 'running';
    const record: StepRecord = { name, state: 'running', startedAt: new Date().toISOString() };
    this.status.steps.push(record);
    this.status.step = name;
    this.publish();
    try {
      const result = await run();
      record.state = 'done';
      record.detail = describe?.(result);
      return result;
    } catch (err) {
      record.state = 'failed';
      record.error = errorMessage(err);
      this.status.lastError = `${name}: ${record.error}`;
      throw err;
    } finally {
      record.endedAt = new Date().toISOString();
      this.publish();
    }
  }

  /** Registers how to undo what the next step does, before it runs. */
  onFailure(name: string, run: () => Promise<unknown>): void {
    this.compensations.push({ name, run });
  }

  /** Past the point of no return: nothing left to undo. */
  commit(): void {
    this.compensations = [];
  }

  /**
   * Runs the registered compensations in reverse. Each one's failure is recorded and
   * reported, never swallowed; the others still run, since each undoes a different thing.
   */
  async compensate(cause: unknown): Promise<void> {
    const pending = [...this.compensations].reverse();
    this.compensations = [];
    if (!pending.length) return;
    this.setPhase('compensating');
    log.warn('compensating', { cause: errorMessage(cause), steps: pending.map((c) => c.name) });
    for (const c of pending) {
      try {
        await this.step(`compensate: ${c.name}`, c.run);
      } catch (err) {
        this.status.compensationErrors.push(`${c.name}: ${errorMessage(err)}`);
      }
    }
  }

  /** The failure that ends a run, carrying what went wrong and how the undo went. */
  failure(cause: unknown, type = 'RotationFailed'): ApplicationFailure {
    const comp = this.status.compensationErrors;
    const undo = comp.length
      ? ` Compensation FAILED for: ${comp.join('; ')} — manual attention needed.`
      : this.status.steps.some((s) => s.name.startsWith('compensate: '))
        ? ' Compensation completed: consumers are back on the previous credential.'
        : '';
    this.setPhase(type === 'RolledBack' ? 'rolled-back' : 'failed');
    this.status.lastError = errorMessage(cause) + undo;
    const failure = ApplicationFailure.create({
      message: `${this.status.workflow}${this.status.zone ? ` ${this.status.zone}` : ''}: ${errorMessage(cause)}.${undo}`,
      type,
      nonRetryable: true,
      cause: cause instanceof Error ? cause : undefined,
    });
    final.add(failure);
    return failure;
  }

  /**
   * Runs a workflow body so that whatever ends it reaches on-call as one readable
   * failure naming the workflow, the zone and the cause — not a bare "Activity task failed".
   */
  async run<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (err) {
      // Not an end: the run goes on as a new one (RotateZone's long grace wait).
      if (err instanceof ContinueAsNew) throw err;
      if (err instanceof Error && final.has(err)) throw err;
      const type = errorType(err);
      throw this.failure(
        err,
        type === 'InvalidInput' || type === 'ConflictingRotation' ? type : 'RotationFailed',
      );
    }
  }

  private publish(): void {
    const s = this.status;
    const lines = [
      `**${s.workflow}**${s.zone ? ` zone \`${s.zone}\`` : ''} — phase **${s.phase}**`,
      s.step ? `step: ${s.step}` : '',
      s.pauseReason
        ? `⏸ ${s.pauseReason}${s.awaiting?.length ? ` (answer with: ${s.awaiting.join(', ')})` : ''}`
        : '',
      s.fingerprints.previous ? `previous key: ${s.fingerprints.previous}` : '',
      s.fingerprints.pending ? `new key: ${s.fingerprints.pending}` : '',
      s.lastError ? `last error: ${s.lastError}` : '',
      s.escalation ? `⚠ escalated: ${s.escalation.message}` : '',
    ];
    setCurrentDetails(lines.filter(Boolean).join('\n\n'));
  }
}

export const invalidInput = (message: string) => ApplicationFailure.nonRetryable(message, 'InvalidInput');
