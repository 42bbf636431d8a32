import { applyNetworkPolicy, secretReferences, toKubeError, type ApplyOutcome, type Kube } from '../kube';
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
 * The zone consumers the rendered policies would not admit: the workloads of each zone's
 * namespace whose pod template reads its Secret, and the running pods that do (flow-run Job
 * pods have no workload the apps API lists). Judged against the rendered policies alone:
 * they are meant to admit every client by themselves.
 */
async function cutOff(kube: Kube, inventory: Inventory): Promise<string[]> {
  const policies = renderNetworkPolicies(inventory);
  const np = inventory.networkPolicies!;
  const store = { namespace: inventory.store.workload.namespace, labels: { ...np.storePods } };
  const namespaces: NamespaceLabels = new Map();
  const refused: string[] = [];
  for (const zone of inventory.zones) {
    const namespace = zone.secret.namespace;
    namespaces.set(namespace, { [NAMESPACE_NAME_LABEL]: namespace });
    const list = async <T>(resource: string, call: () => Promise<{ items: T[] }>) => {
      try {
        return (await call()).items;
      } catch (err) {
        throw toKubeError(err, { verb: 'list', resource, namespace });
      }
    };
    const [deployments, statefulSets, daemonSets, pods] = await Promise.all([
      list('deployments.apps', () => kube.apps.listNamespacedDeployment({ namespace })),
      list('statefulsets.apps', () => kube.apps.listNamespacedStatefulSet({ namespace })),
      list('daemonsets.apps', () => kube.apps.listNamespacedDaemonSet({ namespace })),
      list('pods', () => kube.core.listNamespacedPod({ namespace })),
    ]);
    const candidates = [
      ...deployments.map((w) => ({
        ref: `Deployment/${namespace}/${w.metadata?.name}`,
        t: w.spec?.template,
      })),
      ...statefulSets.map((w) => ({
        ref: `StatefulSet/${namespace}/${w.metadata?.name}`,
        t: w.spec?.template,
      })),
      ...daemonSets.map((w) => ({ ref: `DaemonSet/${namespace}/${w.metadata?.name}`, t: w.spec?.template })),
      ...pods
        .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
        .map((p) => ({ ref: `Pod/${namespace}/${p.metadata?.name}`, t: p })),
    ];
    for (const { ref, t } of candidates) {
      if (!secretReferences(t?.spec, zone.secret.name).length) continue;
      const source = { namespace, labels: { ...(t?.metadata?.labels ?? {}) } };
      if (!canReach(policies, namespaces, source, store, np.port).allowed)
        refused.push(`${ref} (zone ${zone.name})`);
    }
  }
  return refused;
}

export function createNetworkPolicyActivities(deps: ActivityDeps) {
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
