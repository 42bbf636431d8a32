import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { type temporal } from '@temporalio/proto';
import {
  LOCAL_ACTIVITY_MARKER,
  localActivityMs,
  localActivityRecord,
} from '../../src/temporal/local-activity-marker';

const recorded = historyFromJSON(
  JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', 'replay', 'rotate-zone-overlap.zone-runbook-v2.json'), 'utf8'),
  ),
);

test('a recorded RotateZone: every local activity marker reads back as its step, in order', () => {
  const events = recorded.events ?? [];
  const records = events.map(localActivityRecord).filter((r) => r !== undefined);
  assert.deepEqual(
    records.map((r) => r.activityType),
    [
      'inventorySnapshot',
      'assertNoConflictingRun',
      'describeZoneSecret',
      'zoneConsumers',
      'recordZonePending',
      'ensureZoneIdentity',
      'smokeZone',
      'promoteZonePending',
      'restartWorkloads',
      'smokeZone',
      'revokePrevious',
      'deleteZonePending',
    ],
  );
  const started = events[0]!.eventTime!;
  const startMs = Number(started.seconds) * 1000;
  for (const r of records) {
    assert.equal(r.attempt, 1);
    assert.equal(r.failure, undefined);
    assert.ok(
      r.completedAt && Math.abs(r.completedAt.getTime() - startMs) < 60_000,
      'a real completion time',
    );
    assert.ok(localActivityMs(r) >= 0);
  }
  // The patch marker and the regular activity (waitForRollouts) are not local activities.
  const patchMarker = events.find((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')!;
  assert.equal(localActivityRecord(patchMarker), undefined);
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes)!;
  assert.equal(localActivityRecord(scheduled), undefined);
});

test('a failed local activity carries the failure the workflow saw', () => {
  const data = {
    seq: 3,
    attempt: 5,
    activity_id: '3',
    activity_type: 'ensureZoneIdentity',
    complete_time: { seconds: 1796149100, nanos: 500_000_000 },
    original_schedule_time: { seconds: 1796149085, nanos: 0 },
  };
  const event: temporal.api.history.v1.IHistoryEvent = {
    markerRecordedEventAttributes: {
      markerName: LOCAL_ACTIVITY_MARKER,
      details: {
        data: {
          payloads: [
            { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from(JSON.stringify(data)) },
          ],
        },
      },
      failure: { message: 'the store is unreachable (ECONNREFUSED)' },
    },
  };
  const r = localActivityRecord(event)!;
  assert.equal(r.activityType, 'ensureZoneIdentity');
  assert.equal(r.attempt, 5);
  assert.equal(r.failure?.message, 'the store is unreachable (ECONNREFUSED)');
  assert.equal(localActivityMs(r), 15_500);
  // Data that is not JSON is no local-activity step, rather than a crash of `history`.
  const garbled = structuredClone(event);
  garbled.markerRecordedEventAttributes!.details!.data!.payloads![0]!.data = Buffer.from('{not json');
  assert.equal(localActivityRecord(garbled), undefined);
});
