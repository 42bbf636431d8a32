// The CLI's half of an authorized decision (docs/design.md "Who may decide"): before it sends
// approve, resume, rollback or revoke-now (and right after it starts a RotateRoot: the request),
// it creates a RotationDecision with the user's own Kubernetes credentials. The apiserver's
// admission policy admits it only for the identity it authenticated holding the action's verb;
// the run reads it when the update arrives. Nothing is created where the inventory takes
// decisions from any Temporal client.
import { type WorkflowExecutionDescription } from '@temporalio/client';
import {
  ACTION_VERBS,
  AUTHORITY_RESOURCE,
  DECISION_KIND,
  ROOT_TARGET,
  zoneTarget,
  type DecisionAction,
} from '../approvals/decisions';
import { APPROVALS_DEFAULTS, type Inventory } from '../inventory';
import { createDecision, KubeError, KubeNotFoundError, whoAmI } from '../kube';
import { SEARCH_ATTRIBUTE_ZONE } from '../workflows/definitions';
import { kubeFor, requireInventory, type ResolvedConnection } from './connection';
import { CliError, EXIT } from './output';

export interface RecordedDecision {
  /** The RotationDecision's name in `namespace`. */
  name: string;
  namespace: string;
  /** Who the apiserver authenticated the user's credentials as. */
  user: string;
}

/** The inventory's approvals, or the defaults when the CLI was given no inventory. */
async function approvalsOf(conn: ResolvedConnection): Promise<Inventory['approvals']> {
  if (!conn.configFile) return { ...APPROVALS_DEFAULTS };
  return (await requireInventory(conn)).approvals;
}

/** The first run ID of the chain (a RotateZone continues as new during its grace wait). */
export const firstRunId = (desc: WorkflowExecutionDescription): string =>
  desc.raw.workflowExecutionInfo?.firstRunId || desc.runId;

/** The `rotations` name a run's decisions are about: the root, or the zone of a RotateZone. */
export function targetOf(action: DecisionAction, desc: WorkflowExecutionDescription): string {
  if (action !== 'revoke-now') return ROOT_TARGET;
  const zone = desc.searchAttributes?.[SEARCH_ATTRIBUTE_ZONE]?.[0];
  if (typeof zone !== 'string')
    throw new CliError(
      `${desc.workflowId} carries no ${SEARCH_ATTRIBUTE_ZONE}: it is not a RotateZone run`,
      EXIT.usage,
    );
  return zoneTarget(zone);
}

/**
 * Creates the decision with the user's Kubernetes credentials; undefined where the inventory's
 * approvals.authority is any-temporal-client. A refusal by the apiserver is a CliError saying
 * why (nothing was sent to the run).
 */
export async function recordDecision(
  conn: ResolvedConnection,
  d: { workflowId: string; runId: string; action: DecisionAction; target: string; reason?: string },
): Promise<RecordedDecision | undefined> {
  const approvals = await approvalsOf(conn);
  if (approvals.authority !== 'kubernetes') return undefined;
  const kube = kubeFor(conn);
  const namespace = approvals.namespace;
  try {
    const user = await whoAmI(kube);
    const name = await createDecision(kube, namespace, { ...d, user });
    return { name, namespace, user };
  } catch (err) {
    if (err instanceof KubeNotFoundError)
      throw new CliError(
        `no ${DECISION_KIND} resource in namespace ${namespace}: install it with kubectl apply -f deploy/approvals/ (rotator approvals renders it)`,
        EXIT.unavailable,
      );
    if (err instanceof KubeError)
      throw new CliError(
        `Kubernetes refused your ${d.action} of ${d.workflowId} (${err.message}); nothing was sent to the run. ` +
          `A ${d.action} needs the verb ${ACTION_VERBS[d.action]} on ${AUTHORITY_RESOURCE}.rotator.dev/${d.target} ` +
          `in namespace ${namespace} (docs/configuring.md "approvals")`,
        EXIT.workflowFailed,
      );
    throw err;
  }
}
