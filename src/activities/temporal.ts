import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type ActivityDeps } from './deps';
import { FAILURE } from '../workflows/names';
import { nonRetryable } from './failures';
import { readSecret } from '../kube';
import { pendingRecords, recordOwner, type RunRef } from './pending-records';

export interface RunState extends RunRef {
  open: boolean;
  /** RUNNING, COMPLETED, FAILED, TERMINATED, TIMED_OUT, CANCELLED, … or NOT_FOUND (retention). */
  status: string;
}

export const describeRunRef = (r: RunRef) =>
  `${r.workflowType ?? 'workflow'} ${r.workflowId}${r.runId ? ` (run ${r.runId})` : ''}` +
  (r.namespace ? ` in Temporal namespace ${r.namespace}` : '');

/** What runState says of a run that lives in another Temporal namespace than the asker's. */
export const OTHER_NAMESPACE = 'IN_OTHER_NAMESPACE';

/**
 * Asks the server (not its visibility index, which lags) whether a run is still open. A
 * run that continued as new lives on in the ID's latest run, so that one decides.
 *
 * A run of another Temporal namespace (a staging or DR worker with the same Kubernetes
 * credentials) is not looked up here: this client's namespace could not find it, and "not
 * found" would make its live record look abandoned. It counts as open, so its record is
 * never reconciled from this namespace, only reported.
 */
export async function runState(client: Client, ref: RunRef): Promise<RunState> {
  if (ref.namespace && ref.namespace !== client.options.namespace)
    return { ...ref, open: true, status: OTHER_NAMESPACE };
  const describe = async (runId?: string) => {
    try {
      return await client.workflow.getHandle(ref.workflowId, runId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  };
  let desc = await describe(ref.runId);
  if (desc?.status.name === 'CONTINUED_AS_NEW') desc = await describe(undefined);
  if (!desc) return { ...ref, open: false, status: 'NOT_FOUND' };
  return {
    workflowId: ref.workflowId,
    runId: desc.runId,
    workflowType: desc.type ?? ref.workflowType,
    namespace: ref.namespace,
    open: desc.status.name === 'RUNNING',
    status: desc.status.name,
  };
}

/**
 * The refusal of a run that finds its zone (or the root) held by another open run. The
 * holder travels in the failure's details too, so a parent can report it without parsing.
 */
export function conflictingRotation(what: string, holder: RunRef & { status?: string }): ApplicationFailure {
  const elsewhere = holder.status === OTHER_NAMESPACE;
  return ApplicationFailure.create({
    message: elsewhere
      ? `${what} is held by ${describeRunRef(holder)}, another Temporal namespace than this worker's: ` +
        `it is never reconciled from here. Inspect it there with rotator status --namespace ${holder.namespace} ${holder.workflowId}; ` +
        `once it has ended, its own namespace's next run reconciles what it left`
      : `${what} is held by ${describeRunRef(holder)}, which is still running: wait for it, or inspect it with ` +
        `rotator status ${holder.workflowId}`,
    type: FAILURE.conflictingRotation,
    nonRetryable: true,
    details: [
      {
        workflowId: holder.workflowId,
        runId: holder.runId,
        workflowType: holder.workflowType,
        ...(holder.namespace && { namespace: holder.namespace }),
      },
    ],
  });
}

/** Which running workflows keep a given kind from starting (docs/design.md "Workflow IDs are locks"). */
const CONFLICTS: Record<string, string[]> = {
  RotateRoot: ['RotateZone', 'BootstrapCluster'],
  RotateZone: ['RotateRoot'],
  BootstrapCluster: ['RotateRoot'],
};

export function createTemporalActivities(deps: ActivityDeps) {
  return {
    /** Whether a run is open, read from the server itself (in an activity: workflows cannot ask). */
    async describeRun(ref: RunRef): Promise<RunState> {
      return runState(deps.temporal.client, ref);
    },

    /**
     * An early, best-effort refusal before a run reads anything: root and zone rotations
     * exclude each other. The visibility index it asks lags by seconds, so the guarantee is
     * the pending-record lock (locks.ts), taken before any change; this only spares a run
     * that would be refused there the steps before it. Of two that started together, the
     * later one (by start time, then ID) yields.
     *
     * A root rotation excludes zone rotations only once it holds the root's pending record,
     * which it takes when approved and about to change something: one that awaits approval
     * (for up to a day) must not block the emergency rotation of a leaked zone key.
     */
    async assertNoConflictingRun(self: {
      workflowType: string;
      workflowId: string;
      startTime: string;
      parentId?: string;
    }) {
      const kinds = CONFLICTS[self.workflowType] ?? [];
      if (!kinds.length) return;
      const query = `ExecutionStatus = 'Running' AND (${kinds.map((k) => `WorkflowType = '${k}'`).join(' OR ')})`;
      const mine = Date.parse(self.startTime);
      let rootHolder: Promise<RunRef | undefined> | undefined;
      for await (const wf of deps.temporal.client.workflow.list({ query })) {
        if (wf.workflowId === self.workflowId || wf.workflowId === self.parentId) continue;
        const theirs = wf.startTime.getTime();
        if (!(theirs < mine || (theirs === mine && wf.workflowId < self.workflowId))) continue;
        if (wf.type === 'RotateRoot') {
          rootHolder ??= readRootHolder();
          const holder = await rootHolder;
          if (holder?.workflowId !== wf.workflowId || (holder.runId && holder.runId !== wf.runId)) continue;
        }
        throw nonRetryable(
          `${self.workflowType} refused: ${wf.type} ${wf.workflowId} is running (started ${wf.startTime.toISOString()})` +
            `${wf.type === 'RotateRoot' ? ' and holds the root' : ''}; root and zone rotations never overlap. ` +
            `Wait for it or inspect it with: rotator status ${wf.workflowId}`,
          FAILURE.conflictingRotation,
        );
      }
    },
  };

  /** The run the root's pending record names, if there is one. */
  async function readRootHolder(): Promise<RunRef | undefined> {
    const { root } = pendingRecords(deps.inventory);
    const record = await readSecret(deps.kube, root.namespace, root.name);
    return record ? recordOwner(record) : undefined;
  }
}

export type TemporalActivities = ReturnType<typeof createTemporalActivities>;
