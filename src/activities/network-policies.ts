import {
  applyNetworkPolicy,
  listNamespacePodTemplates,
  secretReferences,
  type ApplyOutcome,
  type Kube,
} from '../kube';
import { ZONE_CLIENT_LABEL, type Inventory } from '../inventory';
import { canReach, type NamespaceLabels } from '../netpol/reach';
import { MANAGED_BY, NAMESPACE_NAME_LABEL } from '../netpol/names';
import { renderNetworkPolicies } from '../netpol/render';
import { type ActivityDeps } from './deps';
import { nonRetryable } from './failures';

export interface AppliedPolicy {
  policy: string;
  outcome: ApplyOutcome;
}

/**
 * The zone consumers the rendered policies would not admit: the workloads and live pods of
 * each zone's namespace whose pod template reads its Secret. Judged against the rendered
 * policies alone: they are meant to admit every client by themselves.
 */
async function cutOff(kube: Kube, inventory: Inventory): Promise<string[]> {
  const policies = renderNetworkPolicies(inventory);
  const np = inventory.networkPolicies!;
  const store = { namespace: inventory.store.workload.namespace, labels: { ...np.storePods } };
  const namespaces: NamespaceLabels = new Map(
    inventory.zones.map((z) => [z.secret.namespace, { [NAMESPACE_NAME_LABEL]: z.secret.namespace }]),
  );
  const refused: string[] = [];
  for (const zone of inventory.zones) {
    for (const t of await listNamespacePodTemplates(kube, zone.secret.namespace)) {
      if (!secretReferences(t.spec, zone.secret.name).length) continue;
      if (
        !canReach(policies, namespaces, { namespace: t.namespace, labels: t.labels }, store, np.port).allowed
      )
        refused.push(`${t.kind}/${t.namespace}/${t.name} (zone ${zone.name})`);
    }
  }
  return refused;
}

export function createNetworkPolicyActivities(deps: Pick<ActivityDeps, 'inventory' | 'kube'>) {
  const { inventory, kube } = deps;
  return {
    /**
     * Applies the inventory's NetworkPolicies, after checking they admit every current
     * consumer of every zone: a policy that cut a consumer off the store would be an outage
     * the rotator made, so it refuses and names the workloads instead.
     */
    async applyNetworkPolicies(): Promise<AppliedPolicy[]> {
      const refused = await cutOff(kube, inventory);
      if (refused.length)
        throw nonRetryable(
          `the NetworkPolicies would cut ${refused.length} consumer(s) off the store: ${refused.join(', ')}; label their pods ${ZONE_CLIENT_LABEL}: <zone> or list their labels under networkPolicies.clients.<zone>, then re-run (nothing was applied)`,
          'NetworkPolicyWouldCutOff',
        );
      const applied: AppliedPolicy[] = [];
      for (const policy of renderNetworkPolicies(inventory))
        applied.push({
          policy: `${policy.metadata!.namespace}/${policy.metadata!.name}`,
          outcome: await applyNetworkPolicy(kube, policy, MANAGED_BY),
        });
      return applied;
    },
  };
}
