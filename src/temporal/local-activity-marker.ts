// Local activities leave no ActivityTask* events: each one is a single MarkerRecorded event
// ("core_local_activity") written by the SDK core, whose `data` detail says which activity
// ran, how many attempts it took and when it was scheduled and completed. Readers of a
// history (the `history` command, the benchmarks) turn it back into a step.
import { type temporal } from '@temporalio/proto';

export const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

export interface LocalActivityRecord {
  activityType: string;
  attempt: number;
  scheduledAt?: Date;
  completedAt?: Date;
  /** Set when the last attempt failed (the failure the workflow saw). */
  failure?: temporal.api.failure.v1.IFailure;
}

interface ProtoTime {
  seconds?: number | string;
  nanos?: number;
}

const toDate = (t: ProtoTime | null | undefined): Date | undefined =>
  t && t.seconds !== undefined ? new Date(Number(t.seconds) * 1000 + (t.nanos ?? 0) / 1e6) : undefined;

/** The local activity an event records, or undefined for any other event. */
export function localActivityRecord(
  event: temporal.api.history.v1.IHistoryEvent,
): LocalActivityRecord | undefined {
  const m = event.markerRecordedEventAttributes;
  if (!m || m.markerName !== LOCAL_ACTIVITY_MARKER) return undefined;
  const payload = m.details?.data?.payloads?.[0];
  if (!payload?.data) return undefined;
  let data: {
    activity_type?: string;
    attempt?: number;
    complete_time?: ProtoTime;
    original_schedule_time?: ProtoTime;
  };
  try {
    data = JSON.parse(new TextDecoder().decode(payload.data)) as typeof data;
  } catch {
    return undefined;
  }
  return {
    activityType: data.activity_type ?? '?',
    attempt: data.attempt ?? 1,
    scheduledAt: toDate(data.original_schedule_time),
    completedAt: toDate(data.complete_time),
    ...(m.failure ? { failure: m.failure } : {}),
  };
}

/** How long the local activity took, all attempts included; 0 when the clocks disagree. */
export function localActivityMs(r: LocalActivityRecord): number {
  if (!r.scheduledAt || !r.completedAt) return 0;
  return Math.max(0, r.completedAt.getTime() - r.scheduledAt.getTime());
}
