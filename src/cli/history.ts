// `rotator history <id>`: the run's event history as a timeline for on-call — what
// triggered it, each activity with start, duration, attempts and last failure, timers and
// what ended them (an update, or the timeout: pauses, approval gates, grace periods), the
// updates received and who sent them, child runs, and how it ended.
import { type Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { type google, temporal } from '@temporalio/proto';
import { type Command } from 'commander';
import { type AesGcmCodec } from '../temporal/codec';
import { MEMO_OUTCOME } from '../workflows/definitions';
import { localActivityMs, localActivityRecord } from '../temporal/local-activity-marker';
import {
  CLI_IDENTITY_PREFIX,
  connectionOptionsSchema,
  notFound,
  resolveConnection,
  withClient,
  withConnection,
} from './connection';
import { clock, emit, ms } from './output';

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

export type TriggerKind = 'cli' | 'web-ui' | 'schedule' | 'parent' | 'temporal-cli' | 'client';

export interface Trigger {
  kind: TriggerKind;
  /** One sentence: "rotator CLI (alice@laptop)", "schedule rotator-monthly", ... */
  description: string;
  identity?: string;
  scheduleId?: string;
  parentWorkflowId?: string;
}

export interface TimelineEntry {
  at: string;
  kind:
    'activity' | 'timer' | 'pause' | 'approval' | 'grace' | 'update' | 'signal' | 'child' | 'cancel-request';
  name: string;
  state:
    | 'running'
    | 'completed'
    | 'failed'
    | 'timed-out'
    | 'canceled'
    | 'fired'
    | 'accepted'
    | 'rejected'
    | 'started';
  durationMs?: number;
  attempts?: number;
  lastFailure?: string;
  detail?: string;
  by?: string;
  reason?: string;
}

export interface Timeline {
  workflowId: string;
  runId: string;
  workflowType: string;
  startedAt: string;
  closedAt?: string;
  durationMs?: number;
  outcome: 'running' | 'completed' | 'failed' | 'terminated' | 'canceled' | 'timed-out' | 'continued-as-new';
  outcomeDetail?: string;
  trigger: Trigger;
  input?: unknown;
  entries: TimelineEntry[];
}

const toDate = (ts: google.protobuf.ITimestamp | null | undefined): Date | undefined =>
  ts ? new Date(Number(ts.seconds ?? 0) * 1000 + Math.round((ts.nanos ?? 0) / 1e6)) : undefined;
const toMs = (d: google.protobuf.IDuration | null | undefined): number | undefined =>
  d ? Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6) : undefined;

async function decodePayloads(
  payloads: Payload[] | null | undefined,
  codec?: AesGcmCodec,
): Promise<unknown[]> {
  if (!payloads?.length) return [];
  const decoded = codec ? await codec.decode(payloads) : payloads;
  return decoded.map((p) => {
    try {
      return defaultPayloadConverter.fromPayload(p);
    } catch {
      return "(undecodable payload: set ROTATOR_CODEC_KEY to the worker's key)";
    }
  });
}

function failureMessage(f: temporal.api.failure.v1.IFailure | null | undefined): string | undefined {
  if (!f) return undefined;
  let cur: temporal.api.failure.v1.IFailure | null | undefined = f;
  let msg = f.message ?? '';
  // The innermost cause is what went wrong; the outer ones say "activity task failed".
  while (cur?.cause) {
    cur = cur.cause;
    if (cur.message) msg = cur.message;
  }
  const type = cur?.applicationFailureInfo?.type ?? f.applicationFailureInfo?.type;
  return type ? `${type}: ${msg}` : msg;
}

export function classifyTrigger(
  started: temporal.api.history.v1.IWorkflowExecutionStartedEventAttributes,
): Trigger {
  const identity = started.identity ?? '';
  const scheduledBy = started.searchAttributes?.indexedFields?.TemporalScheduledById;
  if (scheduledBy) {
    let scheduleId = '';
    try {
      scheduleId = String(defaultPayloadConverter.fromPayload(scheduledBy as Payload));
    } catch {
      scheduleId = '?';
    }
    return { kind: 'schedule', description: `schedule ${scheduleId}`, identity, scheduleId };
  }
  if (started.parentWorkflowExecution?.workflowId) {
    const parent = started.parentWorkflowExecution.workflowId;
    return { kind: 'parent', description: `child of workflow ${parent}`, identity, parentWorkflowId: parent };
  }
  if (identity.startsWith(CLI_IDENTITY_PREFIX)) {
    return {
      kind: 'cli',
      description: `rotator CLI (${identity.slice(CLI_IDENTITY_PREFIX.length)})`,
      identity,
    };
  }
  if (identity.startsWith('temporal-cli'))
    return { kind: 'temporal-cli', description: `temporal CLI (${identity})`, identity };
  // The Web UI's Start Workflow form sends an identity only for a logged-in user, their
  // e-mail (temporalio/ui startWorkflow(): `...(identity && { identity })`, identity =
  // authUser.email || ''); the local dev server has no login, so none. (Any other client
  // that sends none, e.g. a raw HTTP API call, looks the same.) SDK clients default to
  // "<pid>@<host>"; test/integration/web-ui-start sends the UI's own requests.
  const email = /^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(identity) && !/^\d+@/.test(identity);
  if (!identity || /web-?ui|temporal-ui/i.test(identity) || email) {
    return { kind: 'web-ui', description: `Temporal Web UI${identity ? ` (${identity})` : ''}`, identity };
  }
  return { kind: 'client', description: `SDK client ${identity}`, identity };
}

export async function buildTimeline(
  client: Client,
  workflowId: string,
  opts: { runId?: string; codec?: AesGcmCodec } = {},
): Promise<Timeline> {
  const handle = client.workflow.getHandle(workflowId, opts.runId);
  const history = await handle.fetchHistory();
  const events: HistoryEvent[] = history.events ?? [];
  const first = events[0];
  const startedAttrs = first?.workflowExecutionStartedEventAttributes;
  if (!first || !startedAttrs) throw new Error(`${workflowId}: history has no start event`);
  const startedAt = toDate(first.eventTime)!;
  const [input] = await decodePayloads(startedAttrs.input?.payloads as Payload[] | undefined, opts.codec);
  const desc = await handle.describe();

  const entries: TimelineEntry[] = [];
  const activities = new Map<number, TimelineEntry & { scheduledAt: Date }>();
  const timers = new Map<string, TimelineEntry & { startedAt: Date; eventIndex: number }>();
  const children = new Map<number, TimelineEntry & { startedAt: Date }>();
  let lastActivityFailure: { type?: string; index: number } | undefined;
  let outcome: Timeline['outcome'] = 'running';
  let outcomeDetail: string | undefined;
  let closedAt: Date | undefined;
  let memoOutcome: unknown;

  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const at = toDate(e.eventTime)!;
    const id = Number(e.eventId ?? 0);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: {
        const a = e.activityTaskScheduledEventAttributes!;
        const args = await decodePayloads(a.input?.payloads as Payload[] | undefined, opts.codec);
        const shown = args.map((x) => JSON.stringify(x)).join(', ');
        const entry = {
          at: at.toISOString(),
          kind: 'activity' as const,
          name: `${a.activityType?.name ?? '?'}(${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown})`,
          state: 'running' as const,
          scheduledAt: at,
        };
        activities.set(id, entry);
        entries.push(entry);
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const a = e.activityTaskStartedEventAttributes!;
        const entry = activities.get(Number(a.scheduledEventId));
        if (entry) {
          entry.attempts = a.attempt ?? 1;
          const lf = failureMessage(a.lastFailure);
          if (lf) entry.lastFailure = lf;
        }
        break;
      }
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        const attrs =
          e.activityTaskCompletedEventAttributes ??
          e.activityTaskFailedEventAttributes ??
          e.activityTaskTimedOutEventAttributes ??
          e.activityTaskCanceledEventAttributes;
        const entry = activities.get(Number(attrs?.scheduledEventId));
        if (!entry) break;
        entry.durationMs = at.getTime() - entry.scheduledAt.getTime();
        if (e.activityTaskFailedEventAttributes || e.activityTaskTimedOutEventAttributes) {
          const f =
            e.activityTaskFailedEventAttributes?.failure ?? e.activityTaskTimedOutEventAttributes?.failure;
          entry.state = e.activityTaskFailedEventAttributes ? 'failed' : 'timed-out';
          entry.lastFailure = failureMessage(f) ?? entry.lastFailure;
          let inner = f;
          while (inner?.cause) inner = inner.cause;
          lastActivityFailure = { type: inner?.applicationFailureInfo?.type ?? undefined, index: i };
        } else {
          entry.state = e.activityTaskCanceledEventAttributes ? 'canceled' : 'completed';
        }
        break;
      }
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        // A local activity (short steps run inside the workflow task) leaves one marker
        // when it is done: its type, attempts and timing, its result or its failure. Its
        // arguments are not recorded anywhere, so the timeline names it by type only.
        const la = localActivityRecord(e);
        if (!la) break;
        const completedAt = la.completedAt ?? at;
        const scheduledAt = la.scheduledAt && la.scheduledAt < completedAt ? la.scheduledAt : completedAt;
        const entry: TimelineEntry = {
          at: scheduledAt.toISOString(),
          kind: 'activity',
          name: `${la.activityType} (local)`,
          state: la.failure ? 'failed' : 'completed',
          durationMs: localActivityMs(la),
          attempts: la.attempt,
        };
        if (la.failure) {
          entry.lastFailure = failureMessage(la.failure);
          let inner = la.failure;
          while (inner?.cause) inner = inner.cause;
          lastActivityFailure = { type: inner?.applicationFailureInfo?.type ?? undefined, index: i };
        }
        entries.push(entry);
        break;
      }
      case EventType.EVENT_TYPE_TIMER_STARTED: {
        const t = e.timerStartedEventAttributes!;
        const timeout = toMs(t.startToFireTimeout);
        const pause =
          lastActivityFailure?.type === 'RestartWindowExceeded' && i - lastActivityFailure.index < 6;
        const entry = {
          at: at.toISOString(),
          kind: (pause ? 'pause' : 'timer') as TimelineEntry['kind'],
          name: pause
            ? `PAUSED: waiting for resume or rollback (up to ${ms(timeout)})`
            : `timer ${ms(timeout)}`,
          state: 'running' as const,
          startedAt: at,
          eventIndex: i,
        };
        timers.set(t.timerId ?? String(id), entry);
        entries.push(entry);
        break;
      }
      case EventType.EVENT_TYPE_TIMER_FIRED:
      case EventType.EVENT_TYPE_TIMER_CANCELED: {
        const timerId = e.timerFiredEventAttributes?.timerId ?? e.timerCanceledEventAttributes?.timerId ?? '';
        const entry = timers.get(timerId);
        if (!entry) break;
        entry.durationMs = at.getTime() - entry.startedAt.getTime();
        entry.state = e.timerFiredEventAttributes ? 'fired' : 'canceled';
        if (entry.state === 'fired')
          entry.detail = entry.kind === 'pause' ? 'nobody answered: pause timeout reached' : 'elapsed';
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
        const u = e.workflowExecutionUpdateAcceptedEventAttributes!;
        const name = u.acceptedRequest?.input?.name ?? '?';
        const [arg] = await decodePayloads(
          u.acceptedRequest?.input?.args?.payloads as Payload[] | undefined,
          opts.codec,
        );
        const a = (arg ?? {}) as { by?: string; reason?: string };
        entries.push({
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
        // The wait this update answered: the most recent timer still running.
        const open = [...timers.values()].reverse().find((t) => t.state === 'running');
        if (open) {
          if (name === 'approve') {
            open.kind = 'approval';
            open.name = `awaiting approval (up to ${open.name.replace(/^timer /, '')})`;
          } else if (name === 'revokeNow') {
            open.kind = 'grace';
            open.name = `grace period (${open.name.replace(/^timer /, '')})`;
          } else if (name === 'resume' || name === 'rollback') {
            open.kind = 'pause';
            if (!open.name.startsWith('PAUSED')) open.name = `PAUSED: waiting for resume or rollback`;
          }
          open.detail = `ended by ${name}${a.by ? ` from ${a.by}` : ''}`;
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
        const u = e.workflowExecutionUpdateCompletedEventAttributes!;
        if (u.outcome?.failure) {
          entries.push({
            at: at.toISOString(),
            kind: 'update',
            name: 'update failed',
            state: 'failed',
            lastFailure: failureMessage(u.outcome.failure),
          });
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
        const s = e.workflowExecutionSignaledEventAttributes!;
        entries.push({
          at: at.toISOString(),
          kind: 'signal',
          name: `signal ${s.signalName}`,
          state: 'accepted',
          detail: s.identity ? `from ${s.identity}` : undefined,
        });
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED: {
        const c = e.workflowExecutionCancelRequestedEventAttributes!;
        entries.push({
          at: at.toISOString(),
          kind: 'cancel-request',
          name: 'cancellation requested',
          state: 'accepted',
          by: c.identity ?? undefined,
        });
        break;
      }
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: {
        const c = e.startChildWorkflowExecutionInitiatedEventAttributes!;
        const entry = {
          at: at.toISOString(),
          kind: 'child' as const,
          name: `child ${c.workflowType?.name} ${c.workflowId}`,
          state: 'started' as const,
          startedAt: at,
        };
        children.set(id, entry);
        entries.push(entry);
        break;
      }
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: {
        const attrs =
          e.startChildWorkflowExecutionFailedEventAttributes ??
          e.childWorkflowExecutionCompletedEventAttributes ??
          e.childWorkflowExecutionFailedEventAttributes ??
          e.childWorkflowExecutionTimedOutEventAttributes ??
          e.childWorkflowExecutionCanceledEventAttributes ??
          e.childWorkflowExecutionTerminatedEventAttributes;
        const entry = children.get(Number(attrs?.initiatedEventId));
        if (!entry) break;
        entry.durationMs = at.getTime() - entry.startedAt.getTime();
        entry.state = e.childWorkflowExecutionCompletedEventAttributes ? 'completed' : 'failed';
        if (e.childWorkflowExecutionFailedEventAttributes)
          entry.lastFailure = failureMessage(e.childWorkflowExecutionFailedEventAttributes.failure);
        if (e.startChildWorkflowExecutionFailedEventAttributes)
          entry.lastFailure = 'could not start (already running?)';
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
        outcome = 'completed';
        closedAt = at;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        outcome = 'failed';
        outcomeDetail = failureMessage(e.workflowExecutionFailedEventAttributes?.failure);
        closedAt = at;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
        outcome = 'terminated';
        outcomeDetail = `${e.workflowExecutionTerminatedEventAttributes?.reason ?? ''}${e.workflowExecutionTerminatedEventAttributes?.identity ? ` (by ${e.workflowExecutionTerminatedEventAttributes.identity})` : ''}`;
        closedAt = at;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: {
        // The run's memo `outcome`: how a canceled run ended (what it undid or finished).
        const field = e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.[MEMO_OUTCOME];
        if (field) [memoOutcome] = await decodePayloads([field as Payload], opts.codec);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
        outcome = 'canceled';
        if (typeof memoOutcome === 'string') outcomeDetail = memoOutcome.replace(/^canceled; /, '');
        closedAt = at;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
        outcome = 'timed-out';
        closedAt = at;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
        outcome = 'continued-as-new';
        closedAt = at;
        break;
      default:
        break;
    }
  }

  // Strip the bookkeeping fields used while walking the events.
  const clean = entries.map((entry) => {
    const {
      scheduledAt: _s,
      startedAt: _t,
      eventIndex: _i,
      ...rest
    } = entry as TimelineEntry & Record<string, unknown>;
    return rest as TimelineEntry;
  });
  return {
    workflowId,
    runId: desc.runId,
    workflowType: startedAttrs.workflowType?.name ?? desc.type,
    startedAt: startedAt.toISOString(),
    closedAt: closedAt?.toISOString(),
    durationMs: (closedAt ?? new Date()).getTime() - startedAt.getTime(),
    outcome,
    outcomeDetail,
    trigger: classifyTrigger(startedAttrs),
    input,
    entries: clean,
  };
}

const ICON: Record<TimelineEntry['state'], string> = {
  running: '…',
  started: '▶',
  completed: '✓',
  failed: '✗',
  'timed-out': '⧖',
  canceled: '⊘',
  fired: '⏰',
  accepted: '✉',
  rejected: '✗',
};

export function renderTimeline(t: Timeline): string {
  const lines = [
    `${t.workflowType} ${t.workflowId} (run ${t.runId})`,
    `  triggered by: ${t.trigger.description}`,
    `  input:        ${JSON.stringify(t.input ?? {})}`,
    `  started:      ${t.startedAt}`,
    `  outcome:      ${t.outcome}${t.outcomeDetail ? ` — ${t.outcomeDetail}` : ''}${t.closedAt ? ` at ${t.closedAt}` : ''} (${ms(t.durationMs)})`,
    '',
    '  time      what',
  ];
  for (const e of t.entries) {
    const extra: string[] = [];
    if (e.durationMs !== undefined) extra.push(ms(e.durationMs));
    if (e.attempts !== undefined && e.attempts > 1) extra.push(`${e.attempts} attempts`);
    if (e.by) extra.push(`by ${e.by}`);
    if (e.reason) extra.push(`reason: ${e.reason}`);
    let line = `  ${clock(e.at)}  ${ICON[e.state]} ${e.kind === 'activity' ? '' : `[${e.kind}] `}${e.name}`;
    if (extra.length) line += `  (${extra.join(', ')})`;
    if (e.detail) line += ` — ${e.detail}`;
    lines.push(line);
    if (e.lastFailure) lines.push(`            last failure: ${e.lastFailure}`);
  }
  return lines.join('\n');
}

export function registerHistory(program: Command): void {
  withConnection(
    program
      .command('history <workflowId>')
      .description(
        'on-call timeline from the event history: steps, attempts, failures, pauses, updates and who sent them, trigger',
      )
      .option('--run-id <runId>', 'a specific run (default: the latest)'),
  ).action(async (id: string, raw: { runId?: string }) => {
    const opts = connectionOptionsSchema.parse(raw);
    const conn = resolveConnection(opts);
    await withClient(conn, async (client) => {
      const timeline = await buildTimeline(client, id, { runId: raw.runId, codec: conn.codec }).catch(
        (err: unknown) => notFound(err, id),
      );
      emit(opts, timeline, renderTimeline);
    });
  });
}
