// The timeline of one run, as timeline.ts reads it from the history and the CLI prints it.
import { type Trigger } from './trigger';

export type EntryKind =
  'activity' | 'timer' | 'pause' | 'approval' | 'grace' | 'update' | 'signal' | 'child' | 'cancel-request';

export interface TimelineEntry {
  at: string;
  kind: EntryKind;
  name: string;
  /** The summary the command recorded (steps: "<activity>: <zone or target>"; waits: what for). */
  summary?: string;
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

export type { Trigger, TriggerKind } from './trigger';
