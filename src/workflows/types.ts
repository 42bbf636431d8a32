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

export interface BootstrapInput {
  /** Read only: return the plan of what would be created, patched and restarted. */
  dryRun?: boolean;
  /** Also rotate every zone's key afterwards (RotateZone children), as `make rbac-bootstrap` does. */
  rotate?: boolean;
  /** Zones handled at once (1–64, default 8); RotateZone children too with `rotate`. */
  parallelism?: number;
}

export interface RotateZoneInput {
  zone: string;
  dryRun?: boolean;
  /** Overrides the inventory's strategy for this run. */
  strategy?: 'overlap' | 'in-place';
  /** Overrides the inventory's grace for this run, e.g. "0s" or "30m". */
  grace?: string;
}

export interface RotateRootInput {
  dryRun?: boolean;
  /** Skip the approval gate (the CLI's --approve). */
  approve?: boolean;
  /** Override the inventory's store.restartTimeout / pauseTimeout, e.g. "45s". */
  restartTimeout?: string;
  pauseTimeout?: string;
  /** How long to wait for the `approve` update before giving up (nothing changed). Default 24h. */
  approvalTimeout?: string;
}

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
  | 'failed';

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
}

export interface WorkflowResult {
  workflow: WorkflowType;
  outcome: 'completed' | 'planned' | 'rolled-back';
  plan?: Plan;
  zones: ZoneResult[];
  root?: { previousFingerprint?: string; newFingerprint?: string; storeDowntimeMs?: number };
  summary: string;
}
