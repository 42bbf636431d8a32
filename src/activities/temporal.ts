import { type ActivityDeps } from './deps';
import { nonRetryable } from './failures';

/** Which running workflows keep a given kind from starting (DESIGN §3). */
const CONFLICTS: Record<string, string[]> = {
  RotateRoot: ['RotateZone', 'BootstrapCluster'],
  RotateZone: ['RotateRoot'],
  BootstrapCluster: ['RotateRoot'],
};

export function createTemporalActivities(deps: ActivityDeps) {
  return {
    /**
     * Root and zone rotations exclude each other. Workflow IDs already make each kind a
     * lock; this closes the cross-kind gap. Of two that started together, the later one
     * (by start time, then ID) yields, so both cannot proceed.
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
      for await (const wf of deps.temporal.client.workflow.list({ query })) {
        if (wf.workflowId === self.workflowId || wf.workflowId === self.parentId) continue;
        const theirs = wf.startTime.getTime();
        if (theirs < mine || (theirs === mine && wf.workflowId < self.workflowId)) {
          throw nonRetryable(
            `${self.workflowType} refused: ${wf.type} ${wf.workflowId} is running (started ${wf.startTime.toISOString()}); ` +
              `root and zone rotations never overlap. Wait for it or inspect it with: rotator status ${wf.workflowId}`,
            'ConflictingRotation',
          );
        }
      }
    },
  };
}

export type TemporalActivities = ReturnType<typeof createTemporalActivities>;
