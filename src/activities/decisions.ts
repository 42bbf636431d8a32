import { type Decision } from '../approvals/decisions';
import { listDecisions } from '../kube';
import { type ActivityDeps } from './deps';

export function createDecisionActivities(deps: ActivityDeps) {
  return {
    /**
     * The RotationDecisions in the inventory's approvals namespace that name this workflow ID:
     * each admitted by the apiserver for the identity it authenticated (the workflow judges them).
     */
    async readDecisions(workflowId: string): Promise<Decision[]> {
      return listDecisions(deps.kube, deps.inventory.approvals.namespace, workflowId);
    },
  };
}
