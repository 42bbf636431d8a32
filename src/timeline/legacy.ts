// Histories recorded before the workflows summarised their timers (src/workflows/summaries.ts)
// say nothing about what a timer waited for. They are labelled as they were before: a timer
// started within six events of a RestartWindowExceeded failure is the pause, and an update
// ended the newest timer still running. Only for timers without a summary; a run recorded
// since is read from its summaries alone.
import { FAILURE } from '../workflows/names';
import { WAIT, WAIT_ENDED_BY } from '../workflows/summaries';
import { type TimelineEntry } from './types';

/** The last activity failure seen in the walk: its type and its event's index. */
export interface FailureSeen {
  type?: string;
  index: number;
}

/** How far after a missed restart window RotateRoot starts its pause timer, in events. */
const PAUSE_WITHIN_EVENTS = 6;

export function legacyTimerIsPause(last: FailureSeen | undefined, index: number): boolean {
  return last?.type === FAILURE.restartWindowExceeded && index - last.index < PAUSE_WITHIN_EVENTS;
}

const LEGACY_NAME: Partial<Record<string, (entry: TimelineEntry) => Pick<TimelineEntry, 'kind' | 'name'>>> = {
  approval: (t) => ({ kind: 'approval', name: `awaiting approval (up to ${t.name.replace(/^timer /, '')})` }),
  grace: (t) => ({ kind: 'grace', name: `grace period (${t.name.replace(/^timer /, '')})` }),
  pause: (t) => ({ kind: 'pause', name: t.kind === 'pause' ? t.name : WAIT.pause }),
};

/** The wait an update ended in a history without summaries: the newest timer still running, relabelled. */
export function legacyUpdateEndsWait<T extends { entry: TimelineEntry }>(
  update: string,
  running: readonly T[],
): T | undefined {
  const newest = running[0];
  const wait = WAIT_ENDED_BY[update];
  if (!newest || !wait) return newest;
  Object.assign(newest.entry, LEGACY_NAME[wait]?.(newest.entry));
  return newest;
}
