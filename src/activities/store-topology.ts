import { type V1Container, type V1PodSpec } from '@kubernetes/client-node';
import { type ErasureLayout } from '../rustfs/topology';
import { RPC_SECRET_ENV } from '../workflows/names';

/** Whether the node-to-node secret stays the same when the root changes, and what says so. */
export type RpcSecretPinning = { pinned: true; via: string } | { pinned: false; reason: string };

/** What preflight read of the store's topology (names and counts; never a secret value). */
export interface StoreTopology {
  /** The store workload's replicas. */
  replicas: number;
  rpcSecret: RpcSecretPinning;
  /** From the admin API's server info; absent when it reports no erasure backend. */
  erasure?: ErasureLayout & { nodesTolerated: number };
  /**
   * The pods whose own endpoint the inventory names (store.nodeEndpoints), and the workload's
   * minReadySeconds: what the rolling strategy's per-pod checks need. Absent from the results of
   * runs recorded before the rolling strategy existed.
   */
  podsWithEndpoints?: number;
  minReadySeconds?: number;
  /**
   * A StatefulSet's podManagementPolicy (the API's default, OrderedReady, when unset); absent
   * for a Deployment, and from runs recorded before preflight read it.
   */
  podManagementPolicy?: string;
}

/** The container that runs the store: the one reading the root Secret, else the first. */
function storeContainer(spec: V1PodSpec | undefined, rootSecret: string): V1Container | undefined {
  const containers = spec?.containers ?? [];
  return (
    containers.find(
      (c) =>
        (c.env ?? []).some((e) => e.valueFrom?.secretKeyRef?.name === rootSecret) ||
        (c.envFrom ?? []).some((f) => f.secretRef?.name === rootSecret),
    ) ?? containers[0]
  );
}

/**
 * Whether the pod spec pins RUSTFS_RPC_SECRET apart from the root. Read from the spec only: an
 * `env` entry (a plain value, or a key of a Secret or ConfigMap other than the root Secret) pins
 * it; an `envFrom` source might, but telling would mean reading a Secret the rotator has no
 * right to read, so it is not proof. Unset or empty, the nodes derive it from the root
 * credentials (RustFS from beta.5; alpha.85 used the root secret itself).
 */
export function rpcSecretPinning(spec: V1PodSpec | undefined, rootSecret: string): RpcSecretPinning {
  const container = storeContainer(spec, rootSecret);
  const entry = container?.env?.find((e) => e.name === RPC_SECRET_ENV);
  if (entry) {
    if (entry.value !== undefined || !entry.valueFrom)
      return entry.value
        ? { pinned: true, via: `a plain value in the pod spec (env ${RPC_SECRET_ENV})` }
        : { pinned: false, reason: `${RPC_SECRET_ENV} is set empty in the pod spec, which leaves it unset` };
    const { secretKeyRef: s, configMapKeyRef: c } = entry.valueFrom;
    if (s?.name === rootSecret)
      return {
        pinned: false,
        reason: `${RPC_SECRET_ENV} is key "${s.key}" of the root Secret ${rootSecret}: it changes with the root`,
      };
    const ref = s ? { kind: 'Secret', ...s } : c ? { kind: 'ConfigMap', ...c } : undefined;
    if (!ref)
      return { pinned: false, reason: `${RPC_SECRET_ENV} comes from a field, not a Secret or ConfigMap` };
    if (ref.optional)
      return {
        pinned: false,
        reason: `${RPC_SECRET_ENV} is an optional key of ${ref.kind} ${ref.name}: unset when the key is missing`,
      };
    return { pinned: true, via: `key "${ref.key}" of ${ref.kind} ${ref.name}` };
  }
  const sources = (container?.envFrom ?? [])
    .map((f) =>
      f.secretRef ? `Secret ${f.secretRef.name}` : f.configMapRef ? `ConfigMap ${f.configMapRef.name}` : '',
    )
    .filter(Boolean);
  if (sources.length)
    return {
      pinned: false,
      reason: `${RPC_SECRET_ENV} is not in the pod spec's env; it may come from envFrom (${sources.join(', ')}), which preflight cannot read`,
    };
  return {
    pinned: false,
    reason: `${RPC_SECRET_ENV} is not set: the nodes derive their node-to-node secret from the root credentials`,
  };
}
