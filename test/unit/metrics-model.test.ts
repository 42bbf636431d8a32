// The pure mapping from what Temporal and Kubernetes hold to the rotator's metric values.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { smokeMismatchMessage, smokeMismatchOf } from '../../src/activities/smoke';
import * as m from '../../src/metrics/model';
import { type ClosedRun, type Sample, type Snapshot } from '../../src/metrics/model';

const t = (iso: string) => new Date(iso);
const secs = (iso: string) => Date.parse(iso) / 1000;

function run(p: Partial<ClosedRun> & Pick<ClosedRun, 'type' | 'status'>): ClosedRun {
  return {
    workflowId: p.type === 'RotateZone' ? `rotate-zone-${p.zone}` : p.type,
    runId: `run-${Math.random().toString(16).slice(2)}`,
    startTime: t('2026-11-01T03:00:00Z'),
    closeTime: t('2026-11-01T03:05:00Z'),
    smokeCellFailures: {},
    ...p,
  };
}

const snapshot = (p: Partial<Snapshot> = {}): Snapshot => ({
  zones: ['ingest', 'serving'],
  closed: [],
  open: [],
  schedules: [],
  ...p,
});

/** The value of the sample with exactly these labels (undefined when absent). */
function value(samples: Sample[], labels: Record<string, string>): number | undefined {
  const hit = samples.filter(
    (s) => JSON.stringify(Object.entries(s.labels).sort()) === JSON.stringify(Object.entries(labels).sort()),
  );
  assert.ok(hit.length <= 1, `one sample per label set, got ${hit.length} for ${JSON.stringify(labels)}`);
  return hit[0]?.value;
}

describe('metrics model', () => {
  test('results: completed, failed (also terminated, timed out), rolled back, canceled; plans and continued runs are no result', () => {
    assert.equal(m.resultOf(run({ type: 'RotateZone', zone: 'serving', status: 'COMPLETED' })), 'completed');
    assert.equal(
      m.resultOf(run({ type: 'RotateRoot', status: 'FAILED', failureType: 'RolledBack' })),
      'rolled_back',
    );
    assert.equal(
      m.resultOf(run({ type: 'RotateRoot', status: 'FAILED', failureType: 'RotationFailed' })),
      'failed',
    );
    assert.equal(m.resultOf(run({ type: 'RotateRoot', status: 'TERMINATED' })), 'failed');
    assert.equal(m.resultOf(run({ type: 'RotateRoot', status: 'TIMED_OUT' })), 'failed');
    assert.equal(m.resultOf(run({ type: 'RotateZone', zone: 'serving', status: 'CANCELLED' })), 'canceled');
    assert.equal(
      m.resultOf(run({ type: 'RotateZone', zone: 'serving', status: 'CONTINUED_AS_NEW' })),
      undefined,
    );
    assert.equal(
      m.resultOf(run({ type: 'RotateZone', zone: 'serving', status: 'COMPLETED', dryRun: true })),
      undefined,
    );
  });

  test('rotations_total counts each ended run once, with every label set present at 0 beforehand', () => {
    const s = snapshot({
      closed: [
        run({ type: 'RotateZone', zone: 'serving', status: 'COMPLETED' }),
        run({ type: 'RotateZone', zone: 'serving', status: 'COMPLETED' }),
        run({ type: 'RotateZone', zone: 'serving', status: 'CONTINUED_AS_NEW' }),
        run({ type: 'RotateZone', zone: 'serving', status: 'COMPLETED', dryRun: true }),
        run({ type: 'RotateRoot', status: 'FAILED', failureType: 'RolledBack' }),
        // A zone no longer in the inventory still has its history counted, under UNKNOWN_ZONE.
        run({ type: 'RotateZone', zone: 'retired', status: 'FAILED', failureType: 'RotationFailed' }),
      ],
    });
    const total = m.rotationsTotal(s);
    assert.equal(value(total, { workflow: 'RotateZone', zone: 'serving', result: 'completed' }), 2);
    assert.equal(value(total, { workflow: 'RotateZone', zone: 'serving', result: 'failed' }), 0);
    assert.equal(value(total, { workflow: 'RotateZone', zone: 'ingest', result: 'completed' }), 0);
    assert.equal(value(total, { workflow: 'RotateRoot', zone: '', result: 'rolled_back' }), 1);
    assert.equal(value(total, { workflow: 'RotateRoot', zone: '', result: 'completed' }), 0);
    assert.equal(value(total, { workflow: 'BootstrapCluster', zone: '', result: 'canceled' }), 0);
    assert.equal(value(total, { workflow: 'RotateZone', zone: m.UNKNOWN_ZONE, result: 'failed' }), 1);
    // 2 workflow/zone rows for the inventory + 1 unknown zone + bootstrap + root, 4 results each.
    assert.equal(total.length, 5 * 4);
  });

  test('the same facts give the same values: a restarted worker or a second one reports what the first did', () => {
    const closed = [
      run({ type: 'RotateZone', zone: 'serving', status: 'COMPLETED' }),
      run({ type: 'RotateRoot', status: 'FAILED', failureType: 'RolledBack' }),
    ];
    assert.deepEqual(
      m.rotationsTotal(snapshot({ closed })),
      m.rotationsTotal(snapshot({ closed: [...closed].reverse() })),
    );
  });

  test('last success: the latest completed run of the target; else the Secret annotation; else 0', () => {
    const s = snapshot({
      closed: [
        run({
          type: 'RotateZone',
          zone: 'serving',
          status: 'COMPLETED',
          closeTime: t('2026-11-01T03:05:00Z'),
        }),
        run({
          type: 'RotateZone',
          zone: 'serving',
          status: 'COMPLETED',
          closeTime: t('2026-12-01T03:05:00Z'),
        }),
        // Later, but not a success: does not move it.
        run({ type: 'RotateZone', zone: 'serving', status: 'FAILED', closeTime: t('2026-12-02T03:05:00Z') }),
        run({
          type: 'RotateZone',
          zone: 'serving',
          status: 'COMPLETED',
          dryRun: true,
          closeTime: t('2026-12-03T00:00:00Z'),
        }),
        run({ type: 'RotateRoot', status: 'FAILED', failureType: 'RolledBack' }),
      ],
      kube: {
        zones: [
          { zone: 'ingest', pending: false, rotatedAt: t('2026-10-15T00:00:00Z') },
          { zone: 'serving', pending: false, rotatedAt: t('2026-12-01T03:01:00Z') },
        ],
        root: { pending: false },
      },
    });
    const last = m.lastSuccess(s);
    assert.equal(value(last, { target: 'zone/serving' }), secs('2026-12-01T03:05:00Z'));
    assert.equal(value(last, { target: 'zone/ingest' }), secs('2026-10-15T00:00:00Z'));
    // Only a rolled-back run within the retention: its undo wrote the annotation, so it says nothing.
    assert.equal(value(last, { target: 'root' }), 0);
    const annotatedRoot = { zones: [], root: { pending: false, rotatedAt: t('2026-10-01T00:00:00Z') } };
    assert.equal(value(m.lastSuccess({ ...s, kube: annotatedRoot }), { target: 'root' }), 0);
    assert.equal(
      value(m.lastSuccess(snapshot({ kube: annotatedRoot })), { target: 'root' }),
      secs('2026-10-01T00:00:00Z'),
      'no run within the retention: the annotation',
    );
  });

  test('last rotation result: 1 for how the latest run ended; a later success clears a failure', () => {
    const failedThenOk = snapshot({
      closed: [
        run({ type: 'RotateZone', zone: 'serving', status: 'FAILED', closeTime: t('2026-11-01T00:00:00Z') }),
        run({
          type: 'RotateZone',
          zone: 'serving',
          status: 'COMPLETED',
          closeTime: t('2026-11-02T00:00:00Z'),
        }),
        run({ type: 'RotateRoot', status: 'COMPLETED', closeTime: t('2026-11-01T00:00:00Z') }),
        run({
          type: 'RotateRoot',
          status: 'FAILED',
          failureType: 'RolledBack',
          closeTime: t('2026-11-03T00:00:00Z'),
        }),
      ],
    });
    const r = m.lastRotationResult(failedThenOk);
    assert.equal(value(r, { workflow: 'RotateZone', zone: 'serving', result: 'failed' }), 0);
    assert.equal(value(r, { workflow: 'RotateZone', zone: 'serving', result: 'completed' }), 1);
    assert.equal(value(r, { workflow: 'RotateRoot', zone: '', result: 'rolled_back' }), 1);
    assert.equal(value(r, { workflow: 'RotateRoot', zone: '', result: 'completed' }), 0);
    // A zone with no run has no latest result.
    assert.equal(value(r, { workflow: 'RotateZone', zone: 'ingest', result: 'completed' }), undefined);
  });

  test('durations: from the first run of a continue-as-new chain to the close', () => {
    const first = run({
      type: 'RotateZone',
      zone: 'serving',
      status: 'CONTINUED_AS_NEW',
      startTime: t('2026-11-01T00:00:00Z'),
      closeTime: t('2026-11-01T08:00:00Z'),
    });
    const last = run({
      type: 'RotateZone',
      zone: 'serving',
      status: 'COMPLETED',
      firstRunId: first.runId,
      startTime: t('2026-11-01T08:00:00Z'),
      closeTime: t('2026-11-01T10:00:00Z'),
    });
    const root = run({
      type: 'RotateRoot',
      status: 'FAILED',
      failureType: 'RolledBack',
      startTime: t('2026-11-01T00:00:00Z'),
      closeTime: t('2026-11-01T00:00:42Z'),
    });
    assert.deepEqual(m.rotationDurations(snapshot({ closed: [first, last, root] })), [
      { labels: { workflow: 'RotateZone', result: 'completed' }, seconds: 10 * 3600 },
      { labels: { workflow: 'RotateRoot', result: 'rolled_back' }, seconds: 42 },
    ]);
  });

  test('waiting: 1 for the phase an open run waits in, 0 otherwise; unknown (query failed) is absent', () => {
    const paused = m.waiting(
      snapshot({
        open: [
          { workflowId: 'rotate-root', type: 'RotateRoot', phase: 'paused' },
          { workflowId: 'rotate-zone-serving', type: 'RotateZone', zone: 'serving', phase: 'waiting-grace' },
          { workflowId: 'rotate-zone-ingest', type: 'RotateZone', zone: 'ingest' },
        ],
      }),
    );
    assert.equal(value(paused, { workflow: 'RotateRoot', zone: '', reason: 'paused' }), 1);
    assert.equal(value(paused, { workflow: 'RotateRoot', zone: '', reason: 'approval' }), 0);
    assert.equal(value(paused, { workflow: 'RotateZone', zone: 'serving', reason: 'grace' }), 1);
    assert.equal(value(paused, { workflow: 'RotateZone', zone: 'ingest', reason: 'grace' }), undefined);
    const after = m.waiting(snapshot());
    assert.equal(value(after, { workflow: 'RotateRoot', zone: '', reason: 'paused' }), 0);
    assert.equal(value(after, { workflow: 'RotateRoot', zone: '', reason: 'approval' }), 0);
    assert.equal(value(after, { workflow: 'RotateZone', zone: 'ingest', reason: 'grace' }), 0);
    const approval = m.waiting(
      snapshot({ open: [{ workflowId: 'rotate-root', type: 'RotateRoot', phase: 'awaiting-approval' }] }),
    );
    assert.equal(value(approval, { workflow: 'RotateRoot', zone: '', reason: 'approval' }), 1);
  });

  test('previous key valid follows the pending record; smoke failures add up per zone', () => {
    const s = snapshot({
      kube: {
        zones: [
          { zone: 'ingest', pending: true },
          { zone: 'serving', pending: false },
        ],
        root: { pending: false },
      },
      closed: [
        run({ type: 'RotateZone', zone: 'serving', status: 'FAILED', smokeCellFailures: { serving: 2 } }),
        run({ type: 'BootstrapCluster', status: 'FAILED', smokeCellFailures: { serving: 1, ingest: 3 } }),
      ],
    });
    assert.deepEqual(m.previousKeyValid(s), [
      { labels: { zone: 'ingest' }, value: 1 },
      { labels: { zone: 'serving' }, value: 0 },
    ]);
    assert.deepEqual(m.smokeCellFailures(s), [
      { labels: { zone: 'ingest' }, value: 3 },
      { labels: { zone: 'serving' }, value: 3 },
    ]);
    assert.deepEqual(m.previousKeyValid(snapshot()), [], 'Kubernetes unreadable: absent, not 0');
  });

  test('the smoke failure message is read back into zone and failed cells', () => {
    const msg = smokeMismatchMessage(
      'serving',
      'pending',
      ['put curated: expected deny, got allow', 'get landing: x'],
      9,
    );
    assert.deepEqual(smokeMismatchOf(msg), { zone: 'serving', failed: 2 });
    assert.equal(smokeMismatchOf('smoke of zone serving timed out'), undefined);
    // Asked on every node: one cell failing on three nodes is one failed cell.
    const perNode = smokeMismatchMessage(
      'ingest',
      'current',
      ['rustfs-1: put landing: expected allow, got deny', 'rustfs-2: put landing: expected allow, got deny'],
      6,
      1,
    );
    assert.deepEqual(smokeMismatchOf(perNode), { zone: 'ingest', failed: 1 });
  });

  test('schedules: paused flag, targets, and the longest gap of a monthly cron (31 days)', () => {
    const monthly: m.ScheduleFacts = {
      id: 'rotator-monthly-rotation',
      workflowType: 'BootstrapCluster',
      input: { rotate: true },
      paused: true,
      nextActionTimes: ['2027-01-01', '2027-02-01', '2027-03-01', '2027-04-01'].map((d) =>
        t(`${d}T03:00:00Z`),
      ),
    };
    const weekly: m.ScheduleFacts = {
      id: 'weekly-serving',
      workflowType: 'RotateZone',
      input: { zone: 'serving' },
      paused: false,
      nextActionTimes: [t('2027-01-04T02:00:00Z'), t('2027-01-11T02:00:00Z')],
    };
    const plan: m.ScheduleFacts = { ...weekly, id: 'plan', input: { zone: 'ingest', dryRun: true } };
    const bootstrapOnly: m.ScheduleFacts = { ...monthly, id: 'ensure', input: {} };
    const s = snapshot({ schedules: [monthly, weekly, plan, bootstrapOnly] });
    assert.equal(m.longestGapSeconds(monthly.nextActionTimes), 31 * 86400);
    assert.deepEqual(m.rotationInterval(s), [
      { labels: { target: 'zone/ingest' }, value: 31 * 86400 },
      { labels: { target: 'zone/serving' }, value: 7 * 86400 },
    ]);
    assert.equal(
      value(m.schedulePaused(s), { schedule: 'rotator-monthly-rotation', workflow: 'BootstrapCluster' }),
      1,
    );
    assert.equal(value(m.schedulePaused(s), { schedule: 'weekly-serving', workflow: 'RotateZone' }), 0);
  });

  test('zone labels carry inventory zone names only: any other zone a client can name is UNKNOWN_ZONE or no target', () => {
    // RotatorZone is a search attribute any client can set at start, and a run sets it from its
    // input before checking it against the inventory: each distinct name would be a new series.
    const forged = Array.from({ length: 50 }, (_, i) => `zone-${i}-${'x'.repeat(200)}`);
    const s = snapshot({
      closed: forged.map((zone) =>
        run({ type: 'RotateZone', zone, status: 'FAILED', smokeCellFailures: { [zone]: 1 } }),
      ),
      open: [
        ...forged.map((zone) => ({
          workflowId: `w-${zone}`,
          type: 'RotateZone' as const,
          zone,
          phase: 'waiting-grace',
        })),
        { workflowId: 'no-zone', type: 'RotateZone', phase: 'waiting-grace' },
      ],
      schedules: forged.map((zone) => ({
        id: `s-${zone.slice(0, 8)}`,
        workflowType: 'RotateZone',
        input: { zone },
        paused: false,
        nextActionTimes: [t('2027-01-04T02:00:00Z'), t('2027-01-11T02:00:00Z')],
      })),
    });
    const zoneLabels = [
      ...m.rotationsTotal(s),
      ...m.lastRotationResult(s),
      ...m.waiting(s),
      ...m.smokeCellFailures(s),
    ].map((x) => x.labels.zone);
    assert.deepEqual([...new Set(zoneLabels)].sort(), ['', m.UNKNOWN_ZONE, 'ingest', 'serving'].sort());
    assert.equal(
      value(m.rotationsTotal(s), { workflow: 'RotateZone', zone: m.UNKNOWN_ZONE, result: 'failed' }),
      50,
    );
    assert.equal(value(m.waiting(s), { workflow: 'RotateZone', zone: m.UNKNOWN_ZONE, reason: 'grace' }), 51);
    assert.deepEqual(value(m.smokeCellFailures(s), { zone: m.UNKNOWN_ZONE }), 50);
    const targets = [...m.lastSuccess(s), ...m.rotationInterval(s)].map((x) => x.labels.target);
    assert.deepEqual([...new Set(targets)].sort(), ['root', 'zone/ingest', 'zone/serving']);
    assert.ok(!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(m.UNKNOWN_ZONE), 'no inventory zone can be named like it');
  });

  test('audit findings by kind, both kinds always present once an audit ran', () => {
    assert.deepEqual(m.auditFindings(snapshot({ audit: { drift: 2 } })), [
      { labels: { kind: 'drift' }, value: 2 },
      { labels: { kind: 'violation' }, value: 0 },
    ]);
    assert.deepEqual(m.auditFindings(snapshot()), []);
  });
});
