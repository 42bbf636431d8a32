// `rotator audit`'s NetworkPolicy check: which pod templates in the cluster the live policies
// let reach the store port, against who the inventory says should. Static: it reads the
// policy objects, so it answers the same on a cluster whose CNI enforces nothing.
import { ZONE_CLIENT_LABEL, type Inventory } from '../inventory';
import {
  listNetworkPolicies,
  listPodTemplates,
  secretReferences,
  toKubeError,
  type Kube,
  type PodTemplateOf,
} from '../kube';
import {
  canReach,
  policiesSelecting,
  policyName,
  selectorMatches,
  type NamespaceLabels,
  type PodShape,
} from './reach';

export const STATIC_NOTE =
  'static check of the NetworkPolicy objects against pod labels: it says what the policies admit, not what the network does (a cluster without a CNI that enforces NetworkPolicy, like the sandbox, admits everything)';

export type ClientRole = 'store' | 'worker' | `zone ${string}` | 'none';

export interface PodReach {
  /** Kind/namespace/name of the workload whose pods these are. */
  workload: string;
  role: ClientRole;
  reaches: boolean;
  via: string[];
}

export interface NetworkFinding {
  severity: 'violation' | 'drift';
  subject: string;
  message: string;
}

export interface NetworkAudit {
  checked: boolean;
  note: string;
  port?: number;
  /** The policies selecting the store's pods for ingress; none means every pod reaches it. */
  storePolicies: string[];
  pods: PodReach[];
  findings: NetworkFinding[];
}

const refOf = (t: PodTemplateOf) => `${t.kind}/${t.namespace}/${t.name}`;

/** Who a pod template is to the store, by the inventory. */
export function roleOf(inventory: Inventory, t: PodTemplateOf): ClientRole {
  const np = inventory.networkPolicies!;
  const store = inventory.store.workload;
  if (t.kind === store.kind && t.namespace === store.namespace && t.name === store.name) return 'store';
  if (t.namespace === np.worker.namespace && selectorMatches({ matchLabels: np.worker.podLabels }, t.labels))
    return 'worker';
  const zone = inventory.zones.find(
    (z) => z.secret.namespace === t.namespace && secretReferences(t.spec, z.secret.name).length > 0,
  );
  return zone ? `zone ${zone.name}` : 'none';
}

/** The store pod the policies are evaluated for: its StatefulSet's template, or the inventory's labels. */
function storePod(inventory: Inventory, templates: PodTemplateOf[]): PodShape {
  const w = inventory.store.workload;
  const t = templates.find((x) => x.kind === w.kind && x.namespace === w.namespace && x.name === w.name);
  const ports = (t?.spec?.containers ?? []).flatMap((c) =>
    (c.ports ?? []).map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol })),
  );
  return { namespace: w.namespace, labels: t?.labels ?? { ...inventory.networkPolicies!.storePods }, ports };
}

export async function auditNetworkPolicies(inventory: Inventory, kube: Kube): Promise<NetworkAudit> {
  const np = inventory.networkPolicies;
  if (!np)
    return {
      checked: false,
      note: 'not checked: the inventory has no networkPolicies section',
      storePolicies: [],
      pods: [],
      findings: [],
    };
  const [policies, templates, namespaceList] = await Promise.all([
    listNetworkPolicies(kube),
    listPodTemplates(kube),
    kube.core.listNamespace().catch((err: unknown) => {
      throw toKubeError(err, { verb: 'list', resource: 'namespaces' });
    }),
  ]);
  const namespaces: NamespaceLabels = new Map(
    namespaceList.items.map((n) => [n.metadata!.name!, { ...(n.metadata?.labels ?? {}) }]),
  );
  const target = storePod(inventory, templates);
  const storePolicies = policiesSelecting(policies, 'Ingress', target).map(policyName);
  const findings: NetworkFinding[] = [];
  const pods: PodReach[] = templates.map((t) => {
    const v = canReach(policies, namespaces, { namespace: t.namespace, labels: t.labels }, target, np.port);
    return { workload: refOf(t), role: roleOf(inventory, t), reaches: v.allowed, via: v.via };
  });
  const storeRef = `${inventory.store.workload.namespace}/${inventory.store.workload.name}`;
  if (!storePolicies.length) {
    findings.push({
      severity: 'drift',
      subject: `store ${storeRef}`,
      message: `no NetworkPolicy selects the store's pods for ingress: every pod in the cluster can reach port ${np.port}; apply the rendered ones (rotator netpol | kubectl apply -f -, or networkPolicies.apply: true and BootstrapCluster)`,
    });
  } else {
    for (const p of pods) {
      if (p.reaches && p.role === 'none')
        findings.push({
          severity: 'violation',
          subject: p.workload,
          message: `${p.workload} can reach the store port ${np.port} (admitted by ${p.via.join(', ')}) but reads no zone Secret and is neither the store nor the worker`,
        });
      if (!p.reaches && p.role.startsWith('zone ')) {
        const zone = p.role.slice('zone '.length);
        findings.push({
          severity: 'drift',
          subject: p.workload,
          message: `${p.workload} reads the Secret of zone ${zone} but cannot reach the store port ${np.port} under the live policies (${p.via.join('; ')}): label its pods ${ZONE_CLIENT_LABEL}: ${zone}, or list their labels under networkPolicies.clients.${zone}`,
        });
      }
    }
  }
  return { checked: true, note: STATIC_NOTE, port: np.port, storePolicies, pods, findings };
}
