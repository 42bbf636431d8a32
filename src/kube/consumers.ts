import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { type Kube } from './client';
import { toKubeError } from './errors';
import { RESTARTED_AT_ANNOTATION } from './rollout';
import { type WorkloadRef } from './rollout-status';
import { secretReferences, type SecretRefVia } from './secret-refs';

export interface Consumer extends WorkloadRef {
  /** Where the pod template reads the Secret, e.g. `env:app/AWS_SECRET_ACCESS_KEY`. */
  via: SecretRefVia[];
}

/**
 * The restartable workloads whose pod template reads the Secret: the ones that must be
 * rolled so their pods pick up a new value (env is resolved at container start; mounted
 * files change in place, but applications read them once). Sorted by kind, then name.
 */
export async function findConsumers(kube: Kube, namespace: string, secretName: string): Promise<Consumer[]> {
  const list = async <T>(resource: string, call: () => Promise<{ items: T[] }>) => {
    try {
      return (await call()).items;
    } catch (err) {
      throw toKubeError(err, { verb: 'list', resource, namespace });
    }
  };
  const [deployments, statefulSets, daemonSets] = await Promise.all([
    list('deployments.apps', () => kube.apps.listNamespacedDeployment({ namespace })),
    list('statefulsets.apps', () => kube.apps.listNamespacedStatefulSet({ namespace })),
    list('daemonsets.apps', () => kube.apps.listNamespacedDaemonSet({ namespace })),
  ]);
  const found: Consumer[] = [];
  const collect = (
    kind: WorkloadRef['kind'],
    items: typeof deployments | typeof statefulSets | typeof daemonSets,
  ) => {
    for (const w of items) {
      const via = secretReferences(w.spec?.template.spec, secretName);
      if (via.length) found.push({ kind, namespace, name: w.metadata?.name ?? '', via });
    }
  };
  collect('Deployment', deployments);
  collect('StatefulSet', statefulSets);
  collect('DaemonSet', daemonSets);
  return found.sort((a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name));
}

export interface PodUsingSecret {
  name: string;
  /** status.startTime (RFC 3339): when the kubelet started the pod and resolved its env. */
  startedAt: string;
  phase: string;
  /** The controller that owns the pod, as `Kind/name`; ReplicaSets are resolved to their Deployment. */
  owner?: string;
  via: SecretRefVia[];
}

export interface PodsReferencingSecretOptions {
  /** Only pods the kubelet started strictly before this instant (they may hold the previous value). */
  startedBefore?: Date;
  /**
   * Leave out pods that have finished (Succeeded/Failed): they hold the value but can no
   * longer use it. Pending and terminating pods are kept, since they may still run with it.
   */
  runningOnly?: boolean;
  /**
   * Leave out pods made from a template restarted after this instant (their restartedAt
   * annotation is later): they were created after it, so they resolved the Secret after
   * it. Finer than start times, which have whole-second resolution.
   */
  restartedAfter?: Date;
}

/**
 * The pods that may still use a previous value of the Secret: the evidence RotateZone waits
 * on before revoking the old key (e.g. a flow-run Job that started before the promotion).
 */
export async function podsReferencingSecret(
  kube: Kube,
  namespace: string,
  secretName: string,
  opts: PodsReferencingSecretOptions = {},
): Promise<PodUsingSecret[]> {
  let pods: V1Pod[];
  try {
    pods = (await kube.core.listNamespacedPod({ namespace })).items;
  } catch (err) {
    throw toKubeError(err, { verb: 'list', resource: 'pods', namespace });
  }
  const matches: Array<{ pod: V1Pod; via: SecretRefVia[]; startedAt: string }> = [];
  for (const pod of pods) {
    const via = secretReferences(pod.spec, secretName);
    if (!via.length) continue;
    const phase = pod.status?.phase ?? 'Unknown';
    if (opts.runningOnly && (phase === 'Succeeded' || phase === 'Failed')) continue;
    const started = pod.status?.startTime;
    // A pod not started yet will resolve the Secret when it starts, i.e. read the new value.
    if (opts.startedBefore && (!started || new Date(started).getTime() >= opts.startedBefore.getTime()))
      continue;
    const restartedAt = Date.parse(pod.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] ?? '');
    if (opts.restartedAfter && restartedAt > opts.restartedAfter.getTime()) continue;
    matches.push({ pod, via, startedAt: started ? new Date(started).toISOString() : '' });
  }
  const owners = await ownerResolver(
    kube,
    namespace,
    matches.map((m) => m.pod),
  );
  return matches
    .map(({ pod, via, startedAt }) => ({
      name: pod.metadata?.name ?? '',
      startedAt,
      phase: pod.status?.phase ?? 'Unknown',
      owner: owners(controllerOf(pod.metadata?.ownerReferences)),
      via,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function controllerOf(refs: V1OwnerReference[] | undefined): V1OwnerReference | undefined {
  return refs?.find((r) => r.controller) ?? refs?.[0];
}

async function ownerResolver(
  kube: Kube,
  namespace: string,
  pods: V1Pod[],
): Promise<(ref: V1OwnerReference | undefined) => string | undefined> {
  const needsReplicaSets = pods.some((p) => controllerOf(p.metadata?.ownerReferences)?.kind === 'ReplicaSet');
  const rsOwner = new Map<string, string>();
  if (needsReplicaSets) {
    try {
      for (const rs of (await kube.apps.listNamespacedReplicaSet({ namespace })).items) {
        const owner = controllerOf(rs.metadata?.ownerReferences);
        if (owner && rs.metadata?.name) rsOwner.set(rs.metadata.name, `${owner.kind}/${owner.name}`);
      }
    } catch (err) {
      throw toKubeError(err, { verb: 'list', resource: 'replicasets.apps', namespace });
    }
  }
  return (ref) => {
    if (!ref) return undefined;
    if (ref.kind === 'ReplicaSet') return rsOwner.get(ref.name) ?? `ReplicaSet/${ref.name}`;
    return `${ref.kind}/${ref.name}`;
  };
}
