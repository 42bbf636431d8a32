// Shapes that cross the workflow boundary: inputs, results, status and plans. None of
// them may ever carry a secret: keys stay inside activities; only fingerprints
// (sha256:<12 hex>) and references (Secret names, access-key IDs) come out.

export const WORKFLOW_TYPES = ['BootstrapCluster', 'RotateZone', 'RotateRoot'] as const;
export type WorkflowType = (typeof WORKFLOW_TYPES)[number];

/** Workflow IDs are the locks: a second start of a running ID is refused by the server. */
export const workflowIds = {
  bootstrap: 'bootstrap-cluster',
  zone: (zone: string) => `rotate-zone-${zone}`,
  root: 'rotate-root',
} as const;

// Inputs are defined once, as the schemas the workflows and the CLI validate them with.
import type { NotifyKind } from '../inventory/schema';
import type { StepKind } from './run-constants';
export type { NotifyKind };

export type Phase =
  | 'starting'
  | 'planning'
  | 'running'
  | 'awaiting-approval'
  | 'waiting-grace'
  | 'paused'
  | 'compensating'
  | 'completed'
  | 'rolled-back'
  | 'canceled'
  | 'failed'
  /** Ended, but something needs a person: see WorkflowStatus.escalation. */
  | 'escalated';

export interface StepRecord {
  name: string;
  state: 'running' | 'done' | 'failed' | 'compensated' | 'skipped';
  startedAt: string;
  endedAt?: string;
  detail?: string;
  error?: string;
}

export interface Fingerprints {
  /** The credential consumers held when the run started. */
  previous?: string;
  /** The credential this run issued. */
  pending?: string;
  /** What the Secret holds now. */
  current?: string;
}

export interface WorkflowStatus {
  workflow: WorkflowType;
  phase: Phase;
  step: string | null;
  zone?: string;
  fingerprints: Fingerprints;
  /** Why the workflow waits for a person, and which updates it accepts. */
  pauseReason?: string;
  awaiting?: string[];
  lastError?: string;
  steps: StepRecord[];
  compensationErrors: string[];
  /** What a cancel would do now (undo, finish, or nothing to undo); absent once the run ended. */
  onCancel?: string;
  /** How a canceled run ended: what was undone or finished. */
  summary?: string;
  /** Set when the run had to act without the condition it waited for; the hook for notifications. */
  escalation?: Escalation;
  /** RotateZone: the zone's Prefect work pools, and how their flow runs meet the new key. */
  workPools?: string[];
  /** Events or notifications that could not be delivered (the run went on without them). */
  announceErrors?: string[];
  /** Steps failing right now and retried within their budget (retry-budgets.ts); absent when none. */
  retrying?: RetryingStep[];
  /** Who decided each accepted approve, resume, rollback or revokeNow (src/workflows/approvals.ts). */
  decisions?: DecisionRecord[];
}

/** An accepted decision: who an authority authenticated, next to the `by` the client claimed. */
export interface DecisionRecord {
  action: 'approve' | 'resume' | 'rollback' | 'revoke-now';
  at: string;
  /** approvals.authority when it was taken. */
  authority: 'kubernetes' | 'any-temporal-client';
  /** The authenticated identities (empty when no authority authenticated anyone). */
  users: string[];
  /** The RotationDecision objects it took. */
  decisions?: string[];
  /** The run's authenticated requester, when there is one. */
  starter?: string;
  selfApproved?: boolean;
  claimedBy?: string;
  reason?: string;
}

/** A step that keeps failing: what on-call sees while the run retries it. */
export interface RetryingStep {
  step: string;
  /** The activity that fails. */
  activity: string;
  /** Whose budget it retries within (run-constants.ts). */
  kind: StepKind;
  /** Attempts that failed so far. */
  attempts: number;
  /** The first failure. */
  since: string;
  lastError: string;
  lastErrorType?: string;
  nextAttemptAt?: string;
  /** No attempt starts after this: the step then fails. */
  givesUpAt: string;
  /** Whether a person was told (after the run's escalateAfter). */
  escalated: boolean;
  /** What on-call can do. */
  advice: string;
}

/** What a run did on its own at a bound, and what on-call should look at. */
export interface Escalation {
  kind: 'grace-bound';
  at: string;
  message: string;
  /** Pods that still referenced the previous key when it was revoked. */
  pods: string[];
}

export interface PlanAction {
  action: 'create' | 'patch' | 'restart' | 'revoke' | 'verify' | 'delete' | 'wait';
  target: string;
  detail: string;
}

export interface Plan {
  workflow: WorkflowType;
  zone?: string;
  strategy?: 'overlap' | 'in-place';
  actions: PlanAction[];
  /** What consumers or the store will experience. */
  expectedDowntime: string;
  notes: string[];
}

export interface ZoneResult {
  zone: string;
  strategy: 'overlap' | 'in-place';
  previousFingerprint?: string;
  newFingerprint?: string;
  restarted: string[];
  revoked?: string;
  smoke: string;
  escalation?: Escalation;
  /** BootstrapCluster `rotate`: what became of the zone's rotation. */
  outcome?: 'rotated' | 'skipped' | 'failed';
  /** Skipped: the open run that holds the zone; `namespace` when it is another Temporal namespace's. */
  heldBy?: { workflowId: string; runId?: string; workflowType?: string; namespace?: string };
  /** Skipped or failed: why. */
  error?: string;
}

export interface WorkflowResult {
  workflow: WorkflowType;
  outcome: 'completed' | 'planned' | 'rolled-back';
  plan?: Plan;
  zones: ZoneResult[];
  root?: {
    /** What preflight found the store to be (from its own answers). */
    store?: { kind: 'rustfs' | 'minio'; version?: string; iamSurvivesRootChange: boolean };
    previousFingerprint?: string;
    newFingerprint?: string;
    /** How the store's pods were restarted (runs since root-strategies). */
    strategy?: 'rolling' | 'all-at-once';
    /** From the store's restart to the store back with the new root (workflow clock); not rolling. */
    storeDowntimeMs?: number;
    /** Rolling: from the first pod's restart to every node checked on the new root. */
    rollMs?: number;
    /**
     * A store that lost IAM on the root change: from the store back to every zone re-created,
     * the time zone keys were refused. Absent when the store kept IAM.
     */
    zoneKeysRefusedMs?: number;
  };
  summary: string;
}

/** Reasons of the Kubernetes Events a run records (CamelCase, as kubectl groups them). */
export const EVENT_REASONS = [
  'Rotated',
  'ConsumersRestarted',
  'PreviousKeyRevoked',
  'RotationFailed',
  'RootRotationPaused',
  'RolledBack',
  /** A step keeps failing past the run's escalateAfter (retry-budgets.ts). */
  'StepRetrying',
] as const;
export type EventReason = (typeof EVENT_REASONS)[number];

/** What an Event is about: the run's zone Secret, the root Secret, or a workload it restarted. */
export type EventTarget =
  | { secretOf: 'zone' | 'root' }
  | { kind: 'Deployment' | 'StatefulSet' | 'DaemonSet'; namespace: string; name: string };

export interface ClusterEvent {
  target: EventTarget;
  type: 'Normal' | 'Warning';
  reason: EventReason;
  /** Access-key IDs and fingerprints only, never a key. */
  message: string;
}

export interface NotificationSpec {
  kind: NotifyKind;
  /** One line: what happened to what. */
  title: string;
  text: string;
  /** When the run acts by itself if nobody answers (automatic rollback, approval expiry). */
  deadline?: { at: string; what: string };
  /** The commands that answer it. */
  commands?: string[];
}

/**
 * What a run tells the cluster (Events) and people (webhook sinks) at one moment. `seq`
 * numbers the announcements of a run, so a retried activity recognises its own Events.
 */
export interface Announcement {
  seq: number;
  workflow: WorkflowType;
  zone?: string;
  events: ClusterEvent[];
  notification?: NotificationSpec;
}
