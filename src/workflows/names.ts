// The names a run and its readers must agree on, defined once: the updates a person sends
// (the workflows register them, the CLI sends them, the timeline reads them back) and the
// failure types a run ends with or reacts to (the workflows throw and compare them, the CLI,
// the metrics and the timeline classify by them). Plain strings, no runtime: importable
// from workflow code, activities and the CLI alike.

/** The updates a person can send a run (src/workflows/definitions.ts defines them). */
export const UPDATE = {
  /** RotateRoot: let the root rotation proceed past its approval gate. */
  approve: 'approve',
  /** RotateRoot while paused: wait another restart window. */
  resume: 'resume',
  /** RotateRoot while paused: restore the previous root and restart the store with it. */
  rollback: 'rollback',
  /** RotateZone while waiting out the grace period: revoke the previous key now. */
  revokeNow: 'revokeNow',
  /** Any run while a step keeps failing: stop retrying it, the step fails now with its last error. */
  stopRetrying: 'stopRetrying',
} as const;

/** Failure types (ApplicationFailure.type) that code other than the thrower compares. */
export const FAILURE = {
  /** The store did not come back with the expected root in time: RotateRoot pauses. */
  restartWindowExceeded: 'RestartWindowExceeded',
  /** Another run holds the zone or the root. */
  conflictingRotation: 'ConflictingRotation',
  /** A RotateRoot rolled back on request, its undo complete. */
  rolledBack: 'RolledBack',
  /** A run failed (and undid what it could). */
  rotationFailed: 'RotationFailed',
  /** A run was canceled and an undo failed. */
  compensationFailed: 'CompensationFailed',
  /** The input was refused before any activity. */
  invalidInput: 'InvalidInput',
  /** RotateRoot refused, before anything changed: its restart would split or stall the store's cluster. */
  topologyRefused: 'TopologyRefused',
  /** A removed key still worked on some node of a multi-node store (retried, the removal with it). */
  revocationNotEverywhere: 'RevocationNotEverywhere',
} as const;

/**
 * The store's node-to-node secret: RustFS reads it from this variable, else derives it from the
 * root (preflight reads the pod spec for it; the restart plan names it in its fix).
 */
export const RPC_SECRET_ENV = 'RUSTFS_RPC_SECRET';

/**
 * What a decision's answer says when an authority authenticated who decided (the update's answer
 * and the status name them so; the timeline takes such an answer over the name a client claimed).
 */
export const AUTHENTICATED_BY_KUBERNETES = 'authenticated by Kubernetes';
