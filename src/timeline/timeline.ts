// A run's timeline for on-call, from its event history alone: what triggered it, each step
// with start, duration, attempts and last failure, the waits (approval, pause, grace) and
// what ended them, the updates and who sent them, child runs, and how it ended.
//
// Pure: no client, no clock, no codec (decode the payloads first: decode.ts). Each step and
// wait is named by the summary its command recorded (src/workflows/summaries.ts); histories
// recorded before summaries existed are named as they always were (legacy.ts).
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { type google, temporal } from '@temporalio/proto';
import { formatElapsed } from '../inventory/duration';
import { localActivityMs, localActivityRecord } from '../temporal/local-activity-marker';
import { MEMO_OUTCOME } from '../workflows/definitions';
import { AUTHENTICATED_BY_KUBERNETES } from '../workflows/names';
import { WAIT, WAIT_ENDED_BY, waitKindOf, type WaitKind } from '../workflows/summaries';
import { legacyUpdateEndsWait, legacyTimerIsPause, type FailureSeen } from './legacy';
import { classifyTrigger } from './trigger';
import { type EntryKind, type Timeline, type TimelineEntry } from './types';

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Failure = temporal.api.failure.v1.IFailure;

/** The kind of timeline entry each recorded wait is shown as. */
const WAIT_ENTRY: Record<WaitKind, EntryKind> = {
  approval: 'approval',
  pause: 'pause',
  grace: 'grace',
  gracePoll: 'grace',
  undoPodCheck: 'timer',
  nextSecond: 'timer',
  retryBackoff: 'timer',
};

const toDate = (ts: google.protobuf.ITimestamp | null | undefined): Date | undefined =>
  ts ? new Date(Number(ts.seconds ?? 0) * 1000 + Math.round((ts.nanos ?? 0) / 1e6)) : undefined;
const toMs = (d: google.protobuf.IDuration | null | undefined): number | undefined =>
  d ? Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6) : undefined;

const UNDECODABLE = "(undecodable payload: set ROTATOR_CODEC_KEY to the worker's key)";
function fromPayload(p: Payload | null | undefined): unknown {
  if (!p) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(p);
  } catch {
    return UNDECODABLE;
  }
}
const fromPayloads = (ps: readonly Payload[] | null | undefined): unknown[] => (ps ?? []).map(fromPayload);

/** The summary a command recorded with its event, if any (none when it cannot be decoded). */
function summaryOf(e: HistoryEvent): string | undefined {
  const s = fromPayload(e.userMetadata?.summary as Payload | undefined);
  return typeof s === 'string' && s && s !== UNDECODABLE ? s : undefined;
}

/**
 * ": <zone or target>" from a step's summary ("<activity>: <target>", src/workflows/summaries.ts),
 * so the step keeps its "<activity> (local)" name and gains what it acted on; "" without one.
 */
function targetOf(activityType: string, summary: string | undefined): string {
  if (!summary || summary === activityType) return '';
  const prefix = `${activityType}: `;
  return `: ${summary.startsWith(prefix) ? summary.slice(prefix.length) : summary}`;
}

/** The innermost cause is what went wrong; the outer ones say "activity task failed". */
function innermost(f: Failure): Failure {
  let cur = f;
  while (cur.cause) cur = cur.cause;
  return cur;
}

/**
 * A failure's own message. Since the failure converter encodes common attributes
 * (src/temporal/failure-converter.ts) the message field says "Encoded failure" and the text is
 * in encodedAttributes, a JSON payload once decodeHistory has decoded it; still ciphertext
 * (no key for it), the placeholder is all there is to show.
 */
function ownMessage(f: Failure): string | undefined {
  const data = f.encodedAttributes?.data;
  if (data?.length) {
    try {
      const decoded = JSON.parse(Buffer.from(data).toString('utf8')) as { message?: unknown };
      if (typeof decoded.message === 'string') return decoded.message;
    } catch {
      // not decoded: keep the placeholder
    }
  }
  return f.message ?? undefined;
}

export function failureMessage(f: Failure | null | undefined): string | undefined {
  if (!f) return undefined;
  let msg = ownMessage(f) ?? '';
  for (let cur: Failure | null | undefined = f.cause; cur; cur = cur.cause) {
    const m = ownMessage(cur);
    if (m) msg = m;
  }
  const type = innermost(f).applicationFailureInfo?.type ?? f.applicationFailureInfo?.type;
  return type ? `${type}: ${msg}` : msg;
}

interface Open<T> {
  entry: TimelineEntry;
  since: Date;
  extra: T;
}

/** The walk over the events, one method per kind of event. */
class Walk {
  readonly entries: TimelineEntry[] = [];
  private readonly activities = new Map<number, Open<null>>();
  private readonly timers = new Map<string, Open<{ wait?: WaitKind; index: number }>>();
  private readonly children = new Map<number, Open<null>>();
  /** Each accepted update (by its id) and the wait it ends, until the run answers it. */
  private readonly answering = new Map<string, { wait: TimelineEntry; name: string }>();
  private lastFailure: FailureSeen | undefined;
  outcome: Timeline['outcome'] = 'running';
  outcomeDetail: string | undefined;
  closedAt: Date | undefined;
  private memoOutcome: unknown;

  private add<T>(entry: TimelineEntry, since: Date, extra: T): Open<T> {
    this.entries.push(entry);
    return { entry, since, extra };
  }

  private sawFailure(f: Failure | null | undefined, index: number): void {
    if (f) this.lastFailure = { type: innermost(f).applicationFailureInfo?.type ?? undefined, index };
  }

  event(e: HistoryEvent, i: number): void {
    const at = toDate(e.eventTime)!;
    const id = Number(e.eventId ?? 0);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        return this.activityScheduled(e, at, id);
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes!;
        const open = this.activities.get(Number(a.scheduledEventId));
        if (open) {
          open.entry.attempts = a.attempt ?? 1;
          open.entry.lastFailure = failureMessage(a.lastFailure) ?? open.entry.lastFailure;
        }
        return;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        return this.activityClosed(e, at, i);
      case EventType.EVENT_TYPE_MARKER_RECORDED:
        return this.marker(e, at, i);
      case EventType.EVENT_TYPE_TIMER_STARTED:
        return this.timerStarted(e, at, i);
      case EventType.EVENT_TYPE_TIMER_FIRED:
      case EventType.EVENT_TYPE_TIMER_CANCELED:
        return this.timerClosed(e, at);
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        return this.updateAccepted(e, at);
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
        return this.updateCompleted(e, at);
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const s = e.workflowExecutionSignaledEventAttributes!;
        this.entries.push({
          at: at.toISOString(),
          kind: 'signal',
          name: `signal ${s.signalName}`,
          state: 'accepted',
          detail: s.identity ? `from ${s.identity}` : undefined,
        });
        return;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
        this.entries.push({
          at: at.toISOString(),
          kind: 'cancel-request',
          name: 'cancellation requested',
          state: 'accepted',
          by: e.workflowExecutionCancelRequestedEventAttributes?.identity ?? undefined,
        });
        return;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: {
        const c = e.startChildWorkflowExecutionInitiatedEventAttributes!;
        const name = `child ${c.workflowType?.name} ${c.workflowId}`;
        this.children.set(
          id,
          this.add({ at: at.toISOString(), kind: 'child', name, state: 'started' }, at, null),
        );
        return;
      }
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
        return this.childClosed(e, at);
      case EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: {
        // The run's memo `outcome`: how a canceled run ended (what it undid or finished).
        const field = e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.[MEMO_OUTCOME];
        if (field) this.memoOutcome = fromPayload(field as Payload);
        return;
      }
      default:
        return this.closed(e, at);
    }
  }

  private activityScheduled(e: HistoryEvent, at: Date, id: number): void {
    const a = e.activityTaskScheduledEventAttributes!;
    const shown = fromPayloads(a.input?.payloads as Payload[] | undefined)
      .map((x) => JSON.stringify(x))
      .join(', ');
    const entry: TimelineEntry = {
      at: at.toISOString(),
      kind: 'activity',
      name: `${a.activityType?.name ?? '?'}(${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown})`,
      summary: summaryOf(e),
      state: 'running',
    };
    this.activities.set(id, this.add(entry, at, null));
  }

  private activityClosed(e: HistoryEvent, at: Date, i: number): void {
    const attrs =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes ??
      e.activityTaskCanceledEventAttributes;
    const open = this.activities.get(Number(attrs?.scheduledEventId));
    if (!open) return;
    open.entry.durationMs = at.getTime() - open.since.getTime();
    const failure =
      e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskTimedOutEventAttributes?.failure;
    if (e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes) {
      open.entry.state = e.activityTaskFailedEventAttributes ? 'failed' : 'timed-out';
      open.entry.lastFailure = failureMessage(failure) ?? open.entry.lastFailure;
      this.sawFailure(failure, i);
    } else {
      open.entry.state = e.activityTaskCanceledEventAttributes ? 'canceled' : 'completed';
    }
  }

  /**
   * A local activity (a short step run inside the workflow task) leaves one marker when it is
   * done: its type, attempts and timing, its result or its failure, and its summary.
   */
  private marker(e: HistoryEvent, at: Date, i: number): void {
    const la = localActivityRecord(e);
    if (!la) return;
    const completedAt = la.completedAt ?? at;
    const scheduledAt = la.scheduledAt && la.scheduledAt < completedAt ? la.scheduledAt : completedAt;
    const summary = summaryOf(e);
    const entry: TimelineEntry = {
      at: scheduledAt.toISOString(),
      kind: 'activity',
      name: `${la.activityType} (local)${targetOf(la.activityType, summary)}`,
      summary,
      state: la.failure ? 'failed' : 'completed',
      durationMs: localActivityMs(la),
      attempts: la.attempt,
    };
    if (la.failure) {
      entry.lastFailure = failureMessage(la.failure);
      this.sawFailure(la.failure, i);
    }
    this.entries.push(entry);
  }

  private timerStarted(e: HistoryEvent, at: Date, i: number): void {
    const t = e.timerStartedEventAttributes!;
    const upTo = formatElapsed(toMs(t.startToFireTimeout));
    const summary = summaryOf(e);
    const wait = waitKindOf(summary);
    let entry: TimelineEntry;
    if (summary !== undefined) {
      entry = {
        at: at.toISOString(),
        kind: wait ? WAIT_ENTRY[wait] : 'timer',
        name: `${summary} (up to ${upTo})`,
        summary,
        state: 'running',
      };
    } else if (legacyTimerIsPause(this.lastFailure, i)) {
      entry = {
        at: at.toISOString(),
        kind: 'pause',
        name: `${WAIT.pause} (up to ${upTo})`,
        state: 'running',
      };
    } else {
      entry = { at: at.toISOString(), kind: 'timer', name: `timer ${upTo}`, state: 'running' };
    }
    this.timers.set(t.timerId ?? String(e.eventId), this.add(entry, at, { wait, index: i }));
  }

  private timerClosed(e: HistoryEvent, at: Date): void {
    const timerId = e.timerFiredEventAttributes?.timerId ?? e.timerCanceledEventAttributes?.timerId ?? '';
    const open = this.timers.get(timerId);
    if (!open) return;
    open.entry.durationMs = at.getTime() - open.since.getTime();
    open.entry.state = e.timerFiredEventAttributes ? 'fired' : 'canceled';
    if (open.entry.state === 'fired')
      open.entry.detail = open.entry.kind === 'pause' ? 'nobody answered: pause timeout reached' : 'elapsed';
  }

  private updateAccepted(e: HistoryEvent, at: Date): void {
    const u = e.workflowExecutionUpdateAcceptedEventAttributes!;
    const name = u.acceptedRequest?.input?.name ?? '?';
    const [arg] = fromPayloads(u.acceptedRequest?.input?.args?.payloads as Payload[] | undefined);
    const a = (typeof arg === 'object' && arg !== null ? arg : {}) as { by?: string; reason?: string };
    this.entries.push({
      at: at.toISOString(),
      kind: 'update',
      name: `update ${name}`,
      state: 'accepted',
      by: a.by,
      reason: a.reason,
      detail: u.acceptedRequest?.meta?.identity
        ? `sent by client ${u.acceptedRequest.meta.identity}`
        : undefined,
    });
    const running = [...this.timers.values()].reverse().filter((t) => t.entry.state === 'running');
    // The wait this update answers: the open wait of the kind it ends, as the waits recorded;
    // a history from before summaries has only the position to go by.
    const answered = running.some((t) => t.entry.summary !== undefined)
      ? running.find((t) => t.extra.wait !== undefined && t.extra.wait === WAIT_ENDED_BY[name])
      : legacyUpdateEndsWait(name, running);
    if (!answered) return;
    answered.entry.detail = `ended by ${name}${a.by ? ` from ${a.by}` : ''}`;
    const id = u.acceptedRequest?.meta?.updateId ?? u.protocolInstanceId;
    if (id) this.answering.set(id, { wait: answered.entry, name });
  }

  /**
   * The run's answer. A refused decision did not end the wait it was for; an authority's answer
   * names who it authenticated (src/workflows/approvals.ts), which replaces the name the client
   * claimed.
   */
  private updateCompleted(e: HistoryEvent, at: Date): void {
    const c = e.workflowExecutionUpdateCompletedEventAttributes;
    const failure = c?.outcome?.failure;
    const pending = c?.meta?.updateId ? this.answering.get(c.meta.updateId) : undefined;
    if (c?.meta?.updateId) this.answering.delete(c.meta.updateId);
    if (failure) {
      if (pending) pending.wait.detail = undefined;
      this.entries.push({
        at: at.toISOString(),
        kind: 'update',
        name: 'update failed',
        state: 'failed',
        lastFailure: failureMessage(failure),
      });
      return;
    }
    const answer = fromPayloads(c?.outcome?.success?.payloads as Payload[] | undefined)[0];
    if (typeof answer !== 'string') return;
    if (pending && answer.includes(AUTHENTICATED_BY_KUBERNETES))
      pending.wait.detail = `ended by ${pending.name}: ${answer}`;
    this.entries.push({
      at: at.toISOString(),
      kind: 'update',
      name: 'update answered',
      state: 'completed',
      detail: answer,
    });
  }

  private childClosed(e: HistoryEvent, at: Date): void {
    const attrs =
      e.startChildWorkflowExecutionFailedEventAttributes ??
      e.childWorkflowExecutionCompletedEventAttributes ??
      e.childWorkflowExecutionFailedEventAttributes ??
      e.childWorkflowExecutionTimedOutEventAttributes ??
      e.childWorkflowExecutionCanceledEventAttributes ??
      e.childWorkflowExecutionTerminatedEventAttributes;
    const open = this.children.get(Number(attrs?.initiatedEventId));
    if (!open) return;
    open.entry.durationMs = at.getTime() - open.since.getTime();
    open.entry.state = e.childWorkflowExecutionCompletedEventAttributes ? 'completed' : 'failed';
    if (e.childWorkflowExecutionFailedEventAttributes)
      open.entry.lastFailure = failureMessage(e.childWorkflowExecutionFailedEventAttributes.failure);
    if (e.startChildWorkflowExecutionFailedEventAttributes)
      open.entry.lastFailure = 'could not start (already running?)';
  }

  /** The run's last event: how it ended. */
  private closed(e: HistoryEvent, at: Date): void {
    const ended = (outcome: Timeline['outcome'], detail?: string) => {
      this.outcome = outcome;
      this.outcomeDetail = detail;
      this.closedAt = at;
    };
    switch (e.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        return ended('completed');
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        return ended('failed', failureMessage(e.workflowExecutionFailedEventAttributes?.failure));
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: {
        const t = e.workflowExecutionTerminatedEventAttributes;
        return ended('terminated', `${t?.reason ?? ''}${t?.identity ? ` (by ${t.identity})` : ''}`);
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        return ended(
          'canceled',
          typeof this.memoOutcome === 'string' ? this.memoOutcome.replace(/^canceled; /, '') : undefined,
        );
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        return ended('timed-out');
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        return ended('continued-as-new');
      default:
        return;
    }
  }
}

/**
 * The timeline of one run from its history (payloads already decoded: decodeHistory).
 * `now` is when a run still open is measured to.
 */
export function timelineFromHistory(
  history: temporal.api.history.v1.IHistory,
  run: { workflowId: string; runId?: string; now?: Date },
): Timeline {
  const events = history.events ?? [];
  const first = events[0];
  const started = first?.workflowExecutionStartedEventAttributes;
  if (!first || !started) throw new Error(`${run.workflowId}: history has no start event`);
  const startedAt = toDate(first.eventTime)!;
  const walk = new Walk();
  events.forEach((e, i) => walk.event(e, i));
  const end = walk.closedAt ?? run.now;
  return {
    workflowId: run.workflowId,
    runId: run.runId ?? started.originalExecutionRunId ?? '',
    workflowType: started.workflowType?.name ?? '?',
    startedAt: startedAt.toISOString(),
    closedAt: walk.closedAt?.toISOString(),
    durationMs: end ? end.getTime() - startedAt.getTime() : undefined,
    outcome: walk.outcome,
    outcomeDetail: walk.outcomeDetail,
    trigger: classifyTrigger(started),
    input: fromPayloads(started.input?.payloads as Payload[] | undefined)[0],
    entries: walk.entries,
  };
}
