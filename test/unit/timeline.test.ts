import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { AesGcmCodec } from '../../src/temporal/codec';
import { dataConverter } from '../../src/temporal/data-converter';
import { LOCAL_ACTIVITY_MARKER } from '../../src/temporal/local-activity-marker';
import { decodeHistory } from '../../src/timeline/decode';
import { failureMessage, timelineFromHistory } from '../../src/timeline/timeline';
import { type Timeline } from '../../src/timeline/types';
import { UPDATE } from '../../src/workflows/names';
import { activitySummary, WAIT } from '../../src/workflows/summaries';

const EventType = temporal.api.enums.v1.EventType;
// Events written as plain objects (numbers for ids and times), as History.fromObject takes them.
type Event = { eventId?: number; userMetadata?: { summary: unknown } } & Record<string, unknown>;

const REPLAY = path.join(__dirname, '..', 'replay');
const committed = fs.readdirSync(REPLAY).filter((f) => f.endsWith('.json'));
const load = (file: string) => historyFromJSON(JSON.parse(fs.readFileSync(path.join(REPLAY, file), 'utf8')));
const timelineOf = (file: string): Timeline =>
  timelineFromHistory(load(file), { workflowId: file.replace(/\..*$/, '') });

test('every committed history renders: its type, how it ended, a step per activity', () => {
  assert.ok(committed.length >= 20, 'the committed histories are found');
  for (const file of committed) {
    const history = load(file);
    const events = history.events!;
    const t = timelineFromHistory(history, { workflowId: file });
    assert.equal(
      t.workflowType,
      events[0]!.workflowExecutionStartedEventAttributes!.workflowType!.name,
      file,
    );
    const last = events.at(-1)!.eventType;
    const ended: Partial<Record<number, Timeline['outcome']>> = {
      [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED]: 'completed',
      [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED]: 'failed',
      [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED]: 'canceled',
      [EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW]: 'continued-as-new',
    };
    assert.equal(t.outcome, ended[last!] ?? 'running', file);
    const scheduled = events.filter(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED ||
        e.markerRecordedEventAttributes?.markerName === LOCAL_ACTIVITY_MARKER,
    ).length;
    assert.equal(t.entries.filter((e) => e.kind === 'activity').length, scheduled, file);
    for (const e of t.entries.filter((x) => x.kind === 'activity'))
      assert.match(e.name, /^[a-z][A-Za-z]+[(: ]/, `${file}: ${e.name}`);
  }
});

test('a history from before summaries: the pause, the approval and what ended them, as before', () => {
  const t = timelineOf('rotate-root-pause-resume.json');
  const approval = t.entries.find((e) => e.kind === 'approval');
  assert.ok(approval, 'the approval gate');
  assert.match(approval.name, /^awaiting approval \(up to /);
  assert.equal(approval.detail, 'ended by approve from recorder');
  const pause = t.entries.find((e) => e.kind === 'pause');
  assert.ok(pause, 'the pause');
  assert.match(pause.name, /^PAUSED: waiting for resume or rollback \(up to /);
  assert.equal(pause.detail, 'ended by resume from recorder');
  assert.ok(t.entries.some((e) => e.kind === 'update' && e.name === 'update resume' && e.by === 'recorder'));
  assert.equal(t.trigger.kind, 'client');
});

test('a history from before summaries: local steps named by type, the grace period by the update', () => {
  const boot = timelineOf('bootstrap-cluster.zone-runbook-v2.json');
  const secrets = boot.entries.filter((e) => e.name === 'ensureZoneSecret (local)');
  assert.equal(secrets.length, 3, 'one per zone, as recorded then (no zone)');
  const zone = timelineOf('rotate-zone-overlap.json');
  const grace = zone.entries.find((e) => e.kind === 'grace');
  assert.ok(grace);
  assert.equal(grace.detail, 'ended by revokeNow from recorder');
});

// A history written as the workflows write it now: every step and wait with its summary.
let eventId = 0;
const at = (s: number) => ({ seconds: 1_800_000_000 + s, nanos: 0 });
const summary = (s: string) => ({ summary: defaultPayloadConverter.toPayload(s) });
const started = (): Event => ({
  eventId: ++eventId,
  eventTime: at(0),
  eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
  workflowExecutionStartedEventAttributes: {
    workflowType: { name: 'BootstrapCluster' },
    identity: 'rotator-cli:alice@laptop',
    originalExecutionRunId: 'run-1',
    input: { payloads: [defaultPayloadConverter.toPayload({})] },
  },
});
const localStep = (type: string, args: unknown[], s: number): Event => ({
  eventId: ++eventId,
  eventTime: at(s + 1),
  eventType: EventType.EVENT_TYPE_MARKER_RECORDED,
  userMetadata: summary(activitySummary(type, args)),
  markerRecordedEventAttributes: {
    markerName: LOCAL_ACTIVITY_MARKER,
    details: {
      data: {
        payloads: [
          defaultPayloadConverter.toPayload({
            activity_type: type,
            attempt: 1,
            original_schedule_time: at(s),
            complete_time: at(s + 1),
          }),
        ],
      },
    },
  },
});
const timer = (id: string, wait: string, s: number): Event => ({
  eventId: ++eventId,
  eventTime: at(s),
  eventType: EventType.EVENT_TYPE_TIMER_STARTED,
  userMetadata: summary(wait),
  timerStartedEventAttributes: { timerId: id, startToFireTimeout: { seconds: 3600 } },
});
const update = (name: string, by: string, s: number): Event => ({
  eventId: ++eventId,
  eventTime: at(s),
  eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
  workflowExecutionUpdateAcceptedEventAttributes: {
    acceptedRequest: { input: { name, args: { payloads: [defaultPayloadConverter.toPayload({ by })] } } },
  },
});
const history = (...events: Event[]) => temporal.api.history.v1.History.fromObject({ events });

test('each step is named by its own summary: two steps swapped keep their zones', () => {
  const steps = [
    localStep('ensureZoneSecret', ['ingest', { workflowId: 'w', at: 'x' }], 10),
    localStep('ensureZoneSecret', ['serving', { workflowId: 'w', at: 'x' }], 20),
  ] as const;
  const forward = timelineFromHistory(history(started(), steps[0], steps[1]), { workflowId: 'b' });
  const swapped = timelineFromHistory(history(started(), steps[1], steps[0]), { workflowId: 'b' });
  assert.deepEqual(
    forward.entries.map((e) => e.name),
    ['ensureZoneSecret (local): zone ingest', 'ensureZoneSecret (local): zone serving'],
  );
  assert.deepEqual(
    swapped.entries.map((e) => e.name),
    ['ensureZoneSecret (local): zone serving', 'ensureZoneSecret (local): zone ingest'],
  );
  assert.equal(forward.trigger.kind, 'cli');
  assert.equal(forward.runId, 'run-1');
});

test('an update ends the wait of its kind, not the newest timer: the order of waits cannot mislabel', () => {
  const approval = timer('1', WAIT.approval, 5);
  const poll = timer('2', WAIT.gracePoll, 6);
  for (const order of [
    [approval, poll],
    [poll, approval],
  ]) {
    const t = timelineFromHistory(history(started(), ...order, update(UPDATE.approve, 'bob', 9)), {
      workflowId: 'r',
    });
    const gate = t.entries.find((e) => e.kind === 'approval')!;
    assert.equal(gate.name, 'awaiting approval (up to 1h)');
    assert.equal(gate.detail, 'ended by approve from bob');
    const other = t.entries.find((e) => e.summary === WAIT.gracePoll)!;
    assert.equal(other.kind, 'grace');
    assert.equal(other.detail, undefined, 'the poll was not what approve ended');
  }
});

test('a wait summary is read by equality: a timer with another summary is a plain timer', () => {
  const t = timelineFromHistory(history(started(), timer('1', `${WAIT.pause} (not quite)`, 1)), {
    workflowId: 'r',
  });
  assert.equal(t.entries[0]!.kind, 'timer');
});

test('summaries and inputs encrypted by the codec are read after decodeHistory', async () => {
  const codec = new AesGcmCodec(new Map([['k1', randomBytes(32)]]), 'k1');
  const step = localStep('smokeZone', ['serving', 'pending'], 1);
  const [encrypted] = await codec.encode([
    defaultPayloadConverter.toPayload(activitySummary('smokeZone', ['serving', 'pending'])),
  ]);
  const h = history(started(), { ...step, userMetadata: { summary: encrypted } });
  const raw = timelineFromHistory(h, { workflowId: 'z' });
  assert.equal(raw.entries[0]!.name, 'smokeZone (local)', 'without the key: the type alone');
  const t = timelineFromHistory(await decodeHistory(h, codec), { workflowId: 'z' });
  assert.equal(t.entries[0]!.name, 'smokeZone (local): zone serving (pending)');
});

test('an activity summary names zones and workloads, never more than three workloads', () => {
  assert.equal(activitySummary('verifyRoot', []), 'verifyRoot: root (current)');
  assert.equal(activitySummary('ensureBuckets', []), 'ensureBuckets');
  const refs = ['a', 'b', 'c', 'd'].map((name) => ({ kind: 'Deployment', namespace: 'ns', name }));
  assert.equal(
    activitySummary('restartWorkloads', [refs, '2026-01-01T00:00:00Z']),
    'restartWorkloads: Deployment ns/a, Deployment ns/b, Deployment ns/c and 1 more',
  );
  assert.equal(activitySummary('someFutureActivity', ['x']), 'someFutureActivity');
});

test('a history recorded with summaries: each zone step names its zone, in the CLI as in the Web UI', () => {
  const t = timelineOf('bootstrap-cluster.summaries.json');
  const secrets = t.entries.filter((e) => e.summary?.startsWith('ensureZoneSecret'));
  assert.deepEqual(secrets.map((e) => e.name).sort(), [
    'ensureZoneSecret (local): zone ingest',
    'ensureZoneSecret (local): zone pipeline',
    'ensureZoneSecret (local): zone serving',
  ]);
  for (const e of t.entries.filter((x) => x.kind === 'activity'))
    assert.ok(e.summary, `${e.name} has its summary`);
});

test('a history recorded with summaries: approval and pause are the waits the run recorded', () => {
  const t = timelineOf('rotate-root-pause-resume.summaries.json');
  const approval = t.entries.filter((e) => e.kind === 'approval');
  assert.equal(approval.length, 1);
  assert.equal(approval[0]!.summary, WAIT.approval);
  assert.equal(approval[0]!.detail, 'ended by approve from recorder');
  const pause = t.entries.filter((e) => e.kind === 'pause');
  assert.equal(pause.length, 1);
  assert.equal(pause[0]!.summary, WAIT.pause);
  assert.equal(pause[0]!.detail, 'ended by resume from recorder');
  assert.equal(t.entries.filter((e) => e.kind === 'timer').length, 0, 'no wait left unexplained');
  const zone = timelineOf('rotate-zone-overlap.summaries.json');
  const grace = zone.entries.find((e) => e.kind === 'grace');
  assert.equal(grace?.summary, WAIT.grace);
  assert.equal(grace?.detail, 'ended by revokeNow from recorder');
});

test('a recorded history with two zone steps swapped: neither is mislabelled', () => {
  const h = load('bootstrap-cluster.summaries.json');
  const events = h.events!;
  const i = events.findIndex((e) => summaryText(e) === 'ensureZoneSecret: zone ingest');
  const j = events.findIndex((e) => summaryText(e) === 'ensureZoneSecret: zone serving');
  assert.ok(i > 0 && j > 0);
  [events[i], events[j]] = [events[j]!, events[i]!];
  const names = timelineFromHistory(h, { workflowId: 'b' })
    .entries.filter((e) => e.summary?.startsWith('ensureZoneSecret'))
    .map((e) => e.name);
  const original = timelineOf('bootstrap-cluster.summaries.json')
    .entries.filter((e) => e.summary?.startsWith('ensureZoneSecret'))
    .map((e) => e.name);
  assert.notDeepEqual(names, original, 'the order changed');
  assert.deepEqual([...names].sort(), [...original].sort(), 'each step kept its own zone');
});

function summaryText(e: temporal.api.history.v1.IHistoryEvent): string | undefined {
  const p = e.userMetadata?.summary;
  return p ? (defaultPayloadConverter.fromPayload(p as never) as string) : undefined;
}

test("a failing step's backoff is a wait of its own, ended by stopRetrying, not the grace period beside it", () => {
  const t = timelineFromHistory(
    history(
      started(),
      timer('1', WAIT.grace, 1),
      timer('2', WAIT.retryBackoff, 2),
      update(UPDATE.stopRetrying, 'carol', 3),
    ),
    { workflowId: 'z' },
  );
  const backoff = t.entries.find((e) => e.summary === WAIT.retryBackoff)!;
  assert.equal(backoff.detail, 'ended by stopRetrying from carol');
  assert.equal(t.entries.find((e) => e.kind === 'grace')!.detail, undefined);
});

test("a failure's message encoded by the failure converter is read after decodeHistory; without the key, the placeholder", async () => {
  const codec = new AesGcmCodec(new Map([['k1', randomBytes(32)]]), 'k1');
  const loaded = loadDataConverter(dataConverter(codec));
  const failure = loaded.failureConverter.errorToFailure(
    ApplicationFailure.nonRetryable('Secret dashi-serving/x refused', 'KubeForbidden'),
    loaded.payloadConverter,
  );
  const [encrypted] = await codec.encode([failure.encodedAttributes!]);
  const failed = (): Event => ({
    eventId: ++eventId,
    eventTime: at(2),
    eventType: EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    workflowExecutionFailedEventAttributes: { failure: { ...failure, encodedAttributes: encrypted } },
  });
  const h = history(started(), failed());
  const raw = h.events![1]!.workflowExecutionFailedEventAttributes!.failure;
  assert.equal(failureMessage(raw), 'KubeForbidden: Encoded failure');
  const decoded = (await decodeHistory(h, codec)).events![1]!.workflowExecutionFailedEventAttributes!.failure;
  assert.equal(failureMessage(decoded), 'KubeForbidden: Secret dashi-serving/x refused');
});

test('a refused approval ends no wait; the accepted one is named as Kubernetes authenticated it, not as claimed', () => {
  // Recorded with approvals.authority kubernetes: the requester's own approval refused, then bob's.
  const t = timelineOf('rotate-root-decisions.authorized-decisions.json');
  const refused = t.entries.filter((e) => e.name === 'update failed');
  assert.ok(refused.length >= 1, 'the refused approval is on the timeline');
  const gate = t.entries.find((e) => e.kind === 'approval')!;
  assert.match(
    gate.detail ?? '',
    /^ended by approve: root rotation approved by \S+:bob \(authenticated by Kubernetes; claimed: recorder\)$/,
  );
  const pause = t.entries.find((e) => e.kind === 'pause')!;
  assert.match(pause.detail ?? '', /^ended by resume: .*bob \(authenticated by Kubernetes/);
});
