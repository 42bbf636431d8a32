import { decisionsOfRun, type Decision, type DecisionRun } from '../approvals/decisions';
import { listDecisions } from '../kube';
import { type ActivityDeps } from './deps';

export function createDecisionActivities(deps: ActivityDeps) {
  return {
    /**
     * The RotationDecisions in the inventory's approvals namespace that name this run: each
     * admitted by the apiserver for the identity it authenticated (the workflow judges them).
     */
    async readDecisions(run: DecisionRun): Promise<Decision[]> {
      const all = await listDecisions(deps.kube, deps.inventory.approvals.namespace, run.workflowId);
      return decisionsOfRun(all, run);
    },
  };
}
