import { isDeepStrictEqual } from 'node:util';
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { type Kube } from './client';
import { KubeError, KubeNotFoundError, toKubeError } from './errors';

const RESOURCE = 'networkpolicies.networking.k8s.io';

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

/** A NetworkPolicy of the same name that the rotator did not create: it is not ours to replace. */
export class ForeignNetworkPolicyError extends KubeError {
  readonly nonRetryable = true;
}

// The client's deserializer orders keys by its type map and keeps undefined fields, so the
// comparison goes through plain JSON and ignores key order.
const comparable = (p: V1NetworkPolicy): unknown =>
  JSON.parse(
    JSON.stringify({
      labels: p.metadata?.labels ?? {},
      annotations: p.metadata?.annotations ?? {},
      spec: p.spec,
    }),
  );

/**
 * Creates the policy or replaces the one the rotator made before (optimistic concurrency on
 * its resourceVersion). `managedBy` is the label that marks the rotator's own objects; one
 * without it is someone else's and is refused, not overwritten.
 */
export async function applyNetworkPolicy(
  kube: Kube,
  policy: V1NetworkPolicy,
  managedBy: Record<string, string>,
): Promise<ApplyOutcome> {
  const namespace = policy.metadata!.namespace!;
  const name = policy.metadata!.name!;
  let current: V1NetworkPolicy | undefined;
  try {
    current = await kube.networking.readNamespacedNetworkPolicy({ name, namespace });
  } catch (err) {
    const e = toKubeError(err, { verb: 'get', resource: RESOURCE, namespace, name });
    if (!(e instanceof KubeNotFoundError)) throw e;
  }
  if (!current) {
    try {
      await kube.networking.createNamespacedNetworkPolicy({ namespace, body: policy });
      return 'created';
    } catch (err) {
      throw toKubeError(err, { verb: 'create', resource: RESOURCE, namespace, name });
    }
  }
  const labels = current.metadata?.labels ?? {};
  if (!Object.entries(managedBy).every(([k, v]) => labels[k] === v))
    throw new ForeignNetworkPolicyError(
      `NetworkPolicy ${namespace}/${name} exists and was not created by the rotator (no ${Object.entries(
        managedBy,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')} label); rename or delete it, then re-run`,
      { verb: 'update', resource: RESOURCE, namespace, name },
    );
  if (isDeepStrictEqual(comparable(current), comparable(policy))) return 'unchanged';
  try {
    await kube.networking.replaceNamespacedNetworkPolicy({
      name,
      namespace,
      body: {
        ...policy,
        metadata: { ...policy.metadata, resourceVersion: current.metadata?.resourceVersion },
      },
    });
    return 'updated';
  } catch (err) {
    throw toKubeError(err, { verb: 'update', resource: RESOURCE, namespace, name });
  }
}

export async function listNetworkPolicies(kube: Kube): Promise<V1NetworkPolicy[]> {
  try {
    return (await kube.networking.listNetworkPolicyForAllNamespaces()).items;
  } catch (err) {
    throw toKubeError(err, { verb: 'list', resource: RESOURCE });
  }
}
