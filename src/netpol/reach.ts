// What a set of NetworkPolicy objects admits, evaluated from labels alone (the semantics of
// networking.k8s.io/v1): the sandbox, like the seed's k3d cluster, has no CNI that enforces
// policies, so the question "which pods can reach the store port" is answered from the
// objects themselves. Pure, so every rule of the API is unit-tested.
import type {
  V1LabelSelector,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1NetworkPolicyPort,
} from '@kubernetes/client-node';

/** A pod, or a workload's pod template, as far as policies can tell pods apart. */
export interface PodShape {
  namespace: string;
  labels: Record<string, string>;
  /** Container ports, for policies that name a port instead of numbering it. */
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
}

/** Namespace name → its labels (kubernetes.io/metadata.name is always among them). */
export type NamespaceLabels = Map<string, Record<string, string>>;

export interface Verdict {
  allowed: boolean;
  /** Why: the policies whose rules admit the connection, or what leaves it unrestricted. */
  via: string[];
  /** An ipBlock peer may cover pod IPs, which a static check cannot see: treated as admitting. */
  ipBlock: boolean;
}

export function selectorMatches(sel: V1LabelSelector | undefined, labels: Record<string, string>): boolean {
  // An absent selector in a peer is handled by the caller; here {} (or absent) matches all.
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        // The apiserver rejects other operators; an unknown one selects nothing.
        return false;
    }
  }
  return true;
}

const nsLabels = (namespaces: NamespaceLabels, name: string) =>
  namespaces.get(name) ?? { 'kubernetes.io/metadata.name': name };

/** Whether a peer of a policy in `policyNs` covers `pod`; 'ipBlock' when it cannot be told. */
export function peerMatches(
  peer: V1NetworkPolicyPeer,
  policyNs: string,
  pod: PodShape,
  namespaces: NamespaceLabels,
): boolean | 'ipBlock' {
  if (peer.ipBlock) return 'ipBlock';
  if (!peer.namespaceSelector && !peer.podSelector) return false;
  const nsOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, nsLabels(namespaces, pod.namespace))
    : pod.namespace === policyNs;
  return nsOk && selectorMatches(peer.podSelector, pod.labels);
}

/** Whether a rule's ports cover `port` on the pod receiving the connection. */
export function portMatches(
  ports: V1NetworkPolicyPort[] | undefined,
  port: number,
  target: PodShape,
): boolean {
  if (!ports?.length) return true;
  return ports.some((p) => {
    const protocol = p.protocol ?? 'TCP';
    if (protocol !== 'TCP') return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number') return p.endPort ? port >= p.port && port <= p.endPort : port === p.port;
    if (/^\d+$/.test(p.port)) return Number(p.port) === port;
    return (target.ports ?? []).some(
      (cp) => cp.name === p.port && cp.containerPort === port && (cp.protocol ?? 'TCP') === 'TCP',
    );
  });
}

export const policyName = (p: V1NetworkPolicy) => `${p.metadata?.namespace}/${p.metadata?.name}`;
const types = (p: V1NetworkPolicy) =>
  p.spec?.policyTypes ?? (p.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress']);

/** The policies of `pod`'s namespace that select it for `direction` (isolate it that way). */
export function policiesSelecting(
  policies: V1NetworkPolicy[],
  direction: 'Ingress' | 'Egress',
  pod: PodShape,
): V1NetworkPolicy[] {
  return policies.filter(
    (p) =>
      p.metadata?.namespace === pod.namespace &&
      types(p).includes(direction) &&
      selectorMatches(p.spec?.podSelector, pod.labels),
  );
}

/**
 * One direction: the policies of `subject`'s namespace that select it for `direction` and
 * whether any of their rules admits `other`. A pod no policy selects is not isolated.
 */
function side(
  policies: V1NetworkPolicy[],
  direction: 'Ingress' | 'Egress',
  subject: PodShape,
  other: PodShape,
  port: number,
  target: PodShape,
  namespaces: NamespaceLabels,
): Verdict {
  const selecting = policiesSelecting(policies, direction, subject);
  if (!selecting.length)
    return { allowed: true, via: [`no ${direction.toLowerCase()} policy selects it`], ipBlock: false };
  const via: string[] = [];
  let ipBlock = false;
  for (const p of selecting) {
    const rules = (direction === 'Ingress' ? p.spec?.ingress : p.spec?.egress) ?? [];
    for (const rule of rules) {
      if (!portMatches(rule.ports, port, target)) continue;
      const peers = 'to' in rule ? rule.to : (rule as { _from?: V1NetworkPolicyPeer[] })._from;
      if (!peers?.length) {
        via.push(policyName(p));
        break;
      }
      const hits = peers.map((peer) => peerMatches(peer, p.metadata!.namespace!, other, namespaces));
      if (hits.includes(true)) via.push(policyName(p));
      else if (hits.includes('ipBlock')) {
        ipBlock = true;
        via.push(`${policyName(p)} (ipBlock)`);
      } else continue;
      break;
    }
  }
  return { allowed: via.length > 0, via, ipBlock };
}

/** Whether `source` can open a TCP connection to `target`'s `port`: target's ingress and source's egress. */
export function canReach(
  policies: V1NetworkPolicy[],
  namespaces: NamespaceLabels,
  source: PodShape,
  target: PodShape,
  port: number,
): Verdict {
  const ingress = side(policies, 'Ingress', target, source, port, target, namespaces);
  const egress = side(policies, 'Egress', source, target, port, target, namespaces);
  return {
    allowed: ingress.allowed && egress.allowed,
    via:
      ingress.allowed && egress.allowed
        ? ingress.via
        : [
            ...(ingress.allowed ? [] : ['no ingress rule of the policies selecting it admits this pod']),
            ...(egress.allowed ? [] : [`egress denied by the policies of ${source.namespace}`]),
          ],
    ipBlock: ingress.ipBlock || egress.ipBlock,
  };
}
