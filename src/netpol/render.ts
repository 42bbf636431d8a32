// The NetworkPolicy that lets only the inventory's clients reach the store: rendered from the
// inventory alone, so `rotator netpol` can write it for a cluster it cannot see, and
// BootstrapCluster applies the same object.
import { dumpYaml, type V1NetworkPolicy, type V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { ZONE_CLIENT_LABEL, type Inventory, type NetworkPolicySettings } from '../inventory';

import { MANAGED_BY, NAMESPACE_NAME_LABEL, STORE_POLICY_NAME } from './names';

const inNamespace = (namespace: string, podLabels: Record<string, string>): V1NetworkPolicyPeer => ({
  namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: namespace } },
  podSelector: { matchLabels: { ...podLabels } },
});

/** The peers the store admits: its own pods, the worker, then each zone's clients. */
function admittedPeers(inventory: Inventory, np: NetworkPolicySettings): V1NetworkPolicyPeer[] {
  return [
    // Its own pods: a distributed store talks to itself on the same port.
    { podSelector: { matchLabels: { ...np.storePods } } },
    inNamespace(np.worker.namespace, np.worker.podLabels),
    ...inventory.zones.flatMap((zone) => [
      inNamespace(zone.secret.namespace, { [ZONE_CLIENT_LABEL]: zone.name }),
      ...(np.clients[zone.name] ?? []).map((c) =>
        inNamespace(c.namespace ?? zone.secret.namespace, c.podLabels),
      ),
    ]),
  ];
}

/** The policies for an inventory with a networkPolicies section (one today: the store's ingress). */
export function renderNetworkPolicies(inventory: Inventory): V1NetworkPolicy[] {
  const np = inventory.networkPolicies;
  if (!np) return [];
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: STORE_POLICY_NAME,
        namespace: inventory.store.workload.namespace,
        labels: { ...MANAGED_BY },
      },
      spec: {
        podSelector: { matchLabels: { ...np.storePods } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            ports: [{ protocol: 'TCP', port: np.port }],
            _from: admittedPeers(inventory, np),
          },
        ],
      },
    },
  ];
}

/** The policies as one YAML stream, headed by where they came from and how to re-render them. */
export function networkPoliciesYaml(policies: V1NetworkPolicy[], source: string): string {
  const head = [
    `# Rendered by \`rotator netpol\` from ${source}; do not edit: change the inventory and re-render.`,
    `# Pods of a zone reach the store when labelled ${ZONE_CLIENT_LABEL}: <zone> in the zone Secret's namespace`,
    "# (or when they match the inventory's networkPolicies.clients). Enforced only by a CNI that implements",
    '# NetworkPolicy; `rotator audit` checks what these objects admit either way.',
  ].join('\n');
  return `${head}\n${policies.map((p) => `---\n${dumpYaml(p)}`).join('')}`;
}
