// The bookkeeping every workflow shares: the status on-call queries, the Web UI's
// current details, the step log, and the compensation stack. Deterministic only.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import {
  ApplicationFailure,
  ContinueAsNew,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  log,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { Announcer } from './announce';
import { errorMessage, errorType } from './errors';
import { FAILURE } from './names';
import { attempts, type StepProxies } from './activities';
import {
  MEMO_OUTCOME,
  SEARCH_ATTRIBUTE_KIND,
  SEARCH_ATTRIBUTE_ZONE,
  statusQuery,
  stopRetryingUpdate,
  type UpdateArg,
} from './definitions';
import { ANNOUNCE, COMPENSATION_V2, OUTAGE_BUDGETS, type PatchSet } from './patches';
import { budgeted } from './retry-budgets';
import {
  ERAS,
  withOverrides,
  type RetryBudgets,
  type RetryOverrides,
  type RunConstants,
  type StepKind,
} from './run-constants';
import {
  type ClusterEvent,
  type EventTarget,
  type NotifyKind,
  type Phase,
  type RetryingStep,
  type StepRecord,
  type WorkflowResult,
  type WorkflowStatus,
  type WorkflowType,
} from './types';

const zoneKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE_ZONE, SearchAttributeType.KEYWORD);
const kindKey = defineSearchAttributeKey(SEARCH_ATTRIBUTE_KIND, SearchAttributeType.KEYWORD);
const ENDED: Phase[] = ['completed', 'rolled-back', 'failed', 'canceled'];

/** Failures already shaped by Runbook.failure(): not wrapped a second time. */
const final = new WeakSet<object>();

interface Compensation {
  name: string;
  run: () => Promise<unknown>;
  /** Undos that must have succeeded before this one may run. */
  needs: string[];
  /** Runs only when every other undo succeeded (the pending record: the only record of both keys). */
  last: boolean;
}

export interface UndoOptions {
  /**
   * Names of undos (registered after this one, so run before it) this one depends on:
   * when any of them failed or was skipped, this one is skipped, since running it would
   * leave the store, the Secret and the pods disagreeing.
   */
  needs?: string[];
  /** Run only when every other undo succeeded: kept as the record of both keys otherwise. */
  last?: boolean;
}

export class Runbook {
  readonly status: WorkflowStatus;
  private compensations: Compensation[] = [];
  /** Set by commit(): what a cancel does past the point of no return. */
  private finishOnCancel: string | undefined;
  /** What a cancel does while nothing is registered to undo (a workflow may say more). */
  cancelNote = 'nothing changed, nothing to undo';
  /** Where each key is, for a failure whose undo did not complete (fingerprints and IDs only). */
  whereKeys: (() => string) | undefined;
  private v2: boolean | undefined;
  /** The commands a failure names for on-call (the revocation of a key still valid). */
  private endCommands: string[] | undefined;
  /** Events and notifications (see announce.ts). */
  readonly announcer: Announcer;
  /** The object a failure or rollback is recorded on (the zone or root Secret), once known. */
  eventSubject: EventTarget | undefined;
  /** Further Events for the end of the run (e.g. the workloads an undo restarted). */
  endEvents: ((kind: NotifyKind) => ClusterEvent[]) | undefined;
  /** The waits and retry budgets of the era this run started in (run-constants.ts). */
  readonly constants: RunConstants;
  /** The era's budgets with the inventory's overrides, once loaded; undefined before outage-budgets. */
  retryBudgets: RetryBudgets | undefined;
  /** Each accepted stopRetrying, in order: a step retrying when one arrives fails at once. */
  readonly stopRequests: UpdateArg[] = [];
  /**
   * Set once consumers are on the new key: what is still valid until the run has revoked it,
   * and the commands that revoke it. A failure from then on says so (PreviousKeyStillValid).
   */
  stillValid: (() => { message: string; commands: string[] } | undefined) | undefined;

  constructor(
    workflow: WorkflowType,
    /** The run's patches (PatchSet), constructed before the Runbook. */
    readonly patches: PatchSet,
    zone?: string,
  ) {
    this.status = {
      workflow,
      phase: 'starting',
      step: null,
      zone,
      fingerprints: {},
      steps: [],
      compensationErrors: [],
    };
    this.announcer = new Announcer(this.status, errorMessage, () => patches.has(ANNOUNCE));
    setHandler(statusQuery, () => this.status);
    this.constants = patches.has(OUTAGE_BUDGETS) ? ERAS.outageBudgets : ERAS.before;
    this.retryBudgets = this.constants.budgets;
    setHandler(
      stopRetryingUpdate,
      (arg) => {
        this.stopRequests.push(arg ?? {});
        const steps = (this.status.retrying ?? []).map((r) => r.step);
        return `stops retrying: ${steps.join('; ')}${arg?.by ? ` (requested by ${arg.by})` : ''}`;
      },
      {
        validator: (_arg: UpdateArg) => {
          if (!this.status.retrying?.length)
            throw new Error('stopRetrying is accepted only while a step is being retried; none is');
        },
      },
    );
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

  /**
   * Runs one step of the runbook, recording it for the status query and the Web UI. Past
   * the point of no return a step is not cancellable: it is the work that keeps consumers safe.
   */
  async step<T>(name: string, run: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    if (this.status.phase === 'starting') this.status.phase = 'running';
    const record: StepRecord = { name, state: 'running', startedAt: new Date().toISOString() };
    this.status.steps.push(record);
    this.status.step = name;
    this.publish();
    try {
      const result = await (this.finishOnCancel !== undefined
        ? CancellationScope.nonCancellable(run)
        : run());
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
  onFailure(name: string, run: () => Promise<unknown>, opts: UndoOptions = {}): void {
    this.compensations.push({ name, run, needs: opts.needs ?? [], last: opts.last ?? false });
    this.publish();
  }

  /**
   * Past the point of no return: nothing left to undo. `onCancel` says what a cancel does
   * from here: the remaining steps finish (not cancellable), then the run ends CANCELED.
   */
  commit(onCancel: string): void {
    this.compensations = [];
    this.finishOnCancel = onCancel;
    this.publish();
  }

  /** The inventory's `retries` overrides, read by the run's "load inventory" step (so recorded with it). */
  configureRetries(overrides: RetryOverrides | undefined): void {
    if (this.retryBudgets) this.retryBudgets = withOverrides(this.retryBudgets, overrides);
  }

  /** The budget a step of kind `base` retries within now: an undo's, or past the switch. */
  retryKind(base: StepKind): StepKind {
    if (this.status.phase === 'compensating') return 'compensation';
    if (this.stillValid || this.finishOnCancel !== undefined) return 'pastSwitch';
    return base;
  }

  /**
   * The proxies a run calls its steps through. Before outage-budgets: `legacy`, each call with
   * its own bounded retries. Since: single attempts retried by the run within their budgets;
   * `local` runs the quick steps and smokes as local activities (zone-runbook-v2).
   */
  proxies(legacy: StepProxies, local: boolean): StepProxies {
    if (!this.retryBudgets) return legacy;
    return {
      acts: budgeted(this, local ? attempts.localQuick : attempts.quick, 'quick'),
      smoke: budgeted(this, local ? attempts.localSmoke : attempts.smoke, 'smoke'),
      waits: budgeted(this, attempts.waits, 'wait'),
    };
  }

  /** A step failed again and will be retried: shown until it succeeds or gives up. */
  retrying(r: RetryingStep): void {
    const list = (this.status.retrying ??= []);
    if (!list.includes(r)) list.push(r);
    this.publish();
  }

  retryEnded(r: RetryingStep): void {
    const list = (this.status.retrying ?? []).filter((x) => x !== r);
    this.status.retrying = list.length ? list : undefined;
    this.publish();
  }

  /** Tells people (notification) and the cluster (an Event on the run's Secret) that a step keeps failing. */
  escalateRetry(r: RetryingStep): void {
    const what = `${this.status.workflow}${this.status.zone ? ` zone ${this.status.zone}` : ''}`;
    const text =
      `step "${r.step}" has failed ${r.attempts} time(s) since ${r.since} and is retried until ${r.givesUpAt} ` +
      `(${r.kind} budget); last error: ${r.lastError}. What to do: ${r.advice}`;
    const id = workflowInfo().workflowId;
    this.announcer.send(
      this.eventSubject
        ? [
            {
              target: this.eventSubject,
              type: 'Warning',
              reason: 'StepRetrying',
              message: `${what}: ${text} (${id})`,
            },
          ]
        : [],
      {
        kind: 'escalated',
        title: `${what}: step "${r.step}" keeps failing (${r.attempts} attempts)`,
        text,
        deadline: { at: r.givesUpAt, what: `the step fails (${r.kind} budget spent)` },
        commands: [`rotator status ${id}`, `rotator stop-retrying ${id} --by <you> --reason <why>`],
      },
    );
  }

  /**
   * Dependency-aware undo and cancel-as-undo, for runs started on or replaying this code;
   * a history recorded before keeps the sequence it had (every undo run, in the cancelled scope).
   */
  private undoV2(): boolean {
    return (this.v2 ??= this.patches.has(COMPENSATION_V2));
  }

  /** Whether this undo's own steps may take extra care (new commands) the old sequence did not. */
  get careful(): boolean {
    return this.v2 === true;
  }

  /**
   * Runs the registered compensations in reverse, not cancellable (a cancel is what starts
   * them) and each with its step's bounded retries. A failure is recorded and reported, never
   * swallowed; an undo whose dependencies failed is skipped, and the pending record stays
   * unless everything was undone.
   */
  async compensate(cause: unknown): Promise<void> {
    const pending = [...this.compensations].reverse();
    this.compensations = [];
    if (!pending.length) return;
    const v2 = this.undoV2();
    this.setPhase('compensating');
    log.warn('compensating', { cause: errorMessage(cause), steps: pending.map((c) => c.name) });
    const undo = async () => {
      const notUndone = new Set<string>();
      for (const c of pending) {
        const blocked = v2 ? (c.last ? [...notUndone] : c.needs.filter((n) => notUndone.has(n))) : [];
        if (blocked.length) {
          notUndone.add(c.name);
          this.skip(`compensate: ${c.name}`, `not run: ${blocked.join(', ')} did not complete`);
          this.status.compensationErrors.push(`${c.name}: skipped (${blocked.join(', ')} did not complete)`);
          continue;
        }
        try {
          await this.step(`compensate: ${c.name}`, c.run);
        } catch (err) {
          notUndone.add(c.name);
          this.status.compensationErrors.push(`${c.name}: ${errorMessage(err)}`);
        }
      }
    };
    await (v2 ? CancellationScope.nonCancellable(undo) : undo());
  }

  private skip(name: string, detail: string): void {
    const at = new Date().toISOString();
    this.status.steps.push({ name, state: 'skipped', startedAt: at, endedAt: at, detail });
    this.publish();
  }

  /**
   * The error that ends a run, carrying what went wrong and how the undo went. A cancel whose
   * undo completed (or that had nothing to undo) ends CANCELED with a summary of what was
   * undone; a cancel whose undo failed ends FAILED, since the state needs a person.
   */
  failure(cause: unknown, type: string = FAILURE.rotationFailed): Error {
    const comp = this.status.compensationErrors;
    const where = comp.length && this.whereKeys ? ` Where the keys are: ${this.whereKeys()}.` : '';
    let undo = comp.length
      ? ` Compensation FAILED for: ${comp.join('; ')} — manual attention needed.${where}`
      : this.undoneSteps().length
        ? ' Compensation completed: consumers are back on the previous credential.'
        : '';
    const canceled = isCancellation(cause) && this.undoV2();
    if (canceled && !comp.length) return this.canceled(this.undoneSummary());
    if (canceled) type = FAILURE.compensationFailed;
    // Past the switch: the run ends without having revoked what it promised to revoke.
    const still = canceled ? undefined : this.stillValid?.();
    if (still) {
      type = 'PreviousKeyStillValid';
      undo += ` ${still.message}`;
      this.endCommands = still.commands;
    }
    this.setPhase(type === FAILURE.rolledBack ? 'rolled-back' : 'failed');
    this.status.lastError = (canceled ? 'cancel requested' : errorMessage(cause)) + undo;
    const failure = ApplicationFailure.create({
      message: `${this.status.workflow}${this.status.zone ? ` ${this.status.zone}` : ''}: ${canceled ? 'cancel requested' : errorMessage(cause)}.${undo}`,
      type,
      nonRetryable: true,
      cause: cause instanceof Error && !canceled ? cause : undefined,
    });
    final.add(failure);
    return failure;
  }

  private undoneSteps(): string[] {
    return this.status.steps
      .filter((s) => s.name.startsWith('compensate: ') && s.state === 'done')
      .map((s) => s.name.slice('compensate: '.length));
  }

  private undoneSummary(): string {
    const undone = this.undoneSteps();
    if (undone.length) return `canceled; undone: ${undone.join('; ')}`;
    return `canceled; ${this.finishOnCancel ?? this.cancelNote}`;
  }

  /** A cancel that is complete: recorded (status, Web UI, memo for history and the Web UI, log), then CANCELED. */
  private canceled(summary: string): CancelledFailure {
    this.status.summary = summary;
    this.status.step = null;
    this.setPhase('canceled');
    upsertMemo({ [MEMO_OUTCOME]: summary });
    log.warn('canceled', { summary });
    const cancel = new CancelledFailure(summary);
    final.add(cancel);
    return cancel;
  }

  /**
   * Runs a workflow body so that whatever ends it reaches on-call as one readable
   * failure naming the workflow, the zone and the cause — not a bare "Activity task failed".
   * A cancel undoes what is registered; one that arrived past the point of no return ends
   * the run CANCELED once the remaining steps finished. However it ends, the end is
   * announced (Events, notifications) before the run closes.
   */
  async run<T extends WorkflowResult>(body: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await this.settle(body);
    } catch (err) {
      // Not an end: the run goes on as a new one (RotateZone's long grace wait).
      // The run's own failure message (workflow, zone, cause, how the undo went), not its cause's.
      if (!(err instanceof ContinueAsNew)) this.announceEnd(err instanceof Error ? err.message : String(err));
      await this.announcer.flush();
      throw err;
    }
    if (result.outcome !== 'planned') this.announceEnd(result.summary);
    await this.announcer.flush();
    return result;
  }

  private async settle<T>(body: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await body();
    } catch (err) {
      if (err instanceof ContinueAsNew) throw err;
      if (err instanceof Error && final.has(err)) throw err;
      if (isCancellation(err) && this.undoV2()) {
        await this.compensate(err);
        throw this.failure(err);
      }
      const type = errorType(err);
      throw this.failure(
        err,
        type === FAILURE.invalidInput || type === FAILURE.conflictingRotation ? type : FAILURE.rotationFailed,
      );
    }
    if (CancellationScope.current().consideredCancelled && this.undoV2())
      throw this.canceled(this.undoneSummary());
    return result;
  }

  /** How the run ended, told to the cluster (on its Secret) and to the sinks that want it. */
  private announceEnd(text: string): void {
    const phase = this.status.phase;
    const kind: NotifyKind =
      phase === 'rolled-back'
        ? 'rolled-back'
        : phase === 'canceled'
          ? 'canceled'
          : phase === 'failed'
            ? 'failed'
            : 'completed';
    const events: ClusterEvent[] = [];
    const undone = this.undoneSteps().length > 0 && !this.status.compensationErrors.length;
    if (this.eventSubject && kind !== 'completed' && (kind !== 'canceled' || undone)) {
      events.push({
        target: this.eventSubject,
        type: 'Warning',
        reason: undone ? 'RolledBack' : 'RotationFailed',
        message: text,
      });
    }
    events.push(...(this.endEvents?.(kind) ?? []));
    const what = `${this.status.workflow}${this.status.zone ? ` zone ${this.status.zone}` : ''}`;
    const verb: Record<NotifyKind, string> = {
      completed: phase === 'escalated' ? 'completed with an escalation' : 'completed',
      'rolled-back': 'rolled back',
      canceled: 'canceled',
      failed: 'FAILED',
      paused: 'paused',
      'awaiting-approval': 'awaits approval',
      escalated: 'escalated',
    };
    this.announcer.send(events, {
      kind,
      title: `${what} ${verb[kind]}`,
      text,
      ...(this.endCommands ? { commands: this.endCommands } : {}),
    });
  }

  /** What a cancel does now: for the status query, the Web UI and the step list. */
  private onCancel(): string {
    if (this.finishOnCancel !== undefined) return `ends CANCELED; ${this.finishOnCancel}`;
    if (!this.compensations.length) return `ends CANCELED; ${this.cancelNote}`;
    const names = [...this.compensations].reverse().map((c) => c.name);
    return `undoes: ${names.join('; ')}; then ends CANCELED`;
  }

  private publish(): void {
    const s = this.status;
    s.onCancel = ENDED.includes(s.phase) ? undefined : this.onCancel();
    const lines = [
      `**${s.workflow}**${s.zone ? ` zone \`${s.zone}\`` : ''} — phase **${s.phase}**`,
      s.step ? `step: ${s.step}` : '',
      s.pauseReason
        ? `⏸ ${s.pauseReason}${s.awaiting?.length ? ` (answer with: ${s.awaiting.join(', ')})` : ''}`
        : '',
      s.fingerprints.previous ? `previous key: ${s.fingerprints.previous}` : '',
      s.fingerprints.pending ? `new key: ${s.fingerprints.pending}` : '',
      s.lastError ? `last error: ${s.lastError}` : '',
      ...(s.retrying ?? []).map(
        (r) =>
          `⟳ retrying "${r.step}" (${r.activity}): ${r.attempts} failed attempt(s) since ${r.since}; last error: ${r.lastError}; ` +
          `next attempt ${r.nextAttemptAt ?? 'now'}, gives up at ${r.givesUpAt} (${r.kind} budget). ${r.advice}`,
      ),
      s.escalation ? `⚠ escalated: ${s.escalation.message}` : '',
      s.summary ? `outcome: ${s.summary}` : '',
      ENDED.includes(s.phase) ? '' : `on cancel: ${s.onCancel}`,
    ];
    setCurrentDetails(lines.filter(Boolean).join('\n\n'));
  }
}
