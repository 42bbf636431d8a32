// Where each zone's and the root's pending record lives, and which run a record names as its
// owner: read by the locks (locks.ts), by the early conflict check (temporal.ts), by the audit
// and by the metrics.
import { type Inventory } from '../inventory';
import { ROTATION_ANNOTATIONS, type SecretData } from '../kube';
import { pendingName } from './credentials';

/** The run that owns a pending record (and so holds its zone, or the root). */
export interface RunRef {
  workflowId: string;
  /** Absent on records written before runs were recorded: then the ID's latest run. */
  runId?: string;
  workflowType?: string;
  /**
   * The Temporal namespace the run lives in. Absent on records written before records named
   * it: then the namespace of whoever reads the record.
   */
  namespace?: string;
}

/** Owner annotations of a pending record. `workflow-id` is the one records always had. */
export const OWNER_ANNOTATIONS = {
  workflowId: ROTATION_ANNOTATIONS.workflowId,
  runId: 'rotator.rustfs.dev/owner-run-id',
  workflowType: 'rotator.rustfs.dev/owner-workflow-type',
  strategy: 'rotator.rustfs.dev/strategy',
  temporalNamespace: 'rotator.rustfs.dev/owner-temporal-namespace',
} as const;

/** The run a pending record names as its owner; undefined for a record without one. */
export function recordOwner(record: SecretData): RunRef | undefined {
  const workflowId = record.annotations[OWNER_ANNOTATIONS.workflowId];
  if (!workflowId) return undefined;
  return {
    workflowId,
    runId: record.annotations[OWNER_ANNOTATIONS.runId] || undefined,
    workflowType: record.annotations[OWNER_ANNOTATIONS.workflowType] || undefined,
    namespace: record.annotations[OWNER_ANNOTATIONS.temporalNamespace] || undefined,
  };
}

/** The pending record's location for each zone and for the root, named for messages. */
export function pendingRecords(inventory: Inventory) {
  const ref = (s: { namespace: string; name: string }) => ({
    namespace: s.namespace,
    name: pendingName(s.name),
    secret: s,
    label: `${s.namespace}/${pendingName(s.name)}`,
  });
  return {
    root: ref(inventory.store.rootSecret),
    zones: inventory.zones.map((z) => ({ zone: z.name, ...ref(z.secret) })),
  };
}
