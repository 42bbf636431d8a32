import type { V1DaemonSet, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';

export type WorkloadKind = 'Deployment' | 'StatefulSet' | 'DaemonSet';

export interface WorkloadRef {
  kind: WorkloadKind;
  namespace: string;
  name: string;
}

export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['Deployment', 'StatefulSet', 'DaemonSet'];

export interface RolloutStatus {
  done: boolean;
  /** kubectl's line, without its trailing newline. */
  message: string;
  /** Waiting cannot help: kubectl would exit with this message as its error. */
  failed?: boolean;
}

export type WorkloadObject =
  | ({ kind: 'Deployment' } & V1Deployment)
  | ({ kind: 'StatefulSet' } & V1StatefulSet)
  | ({ kind: 'DaemonSet' } & V1DaemonSet);

/** The Deployment controller's reason on the Progressing condition once the deadline passed. */
export const PROGRESS_DEADLINE_REASON = 'ProgressDeadlineExceeded';

/**
 * `kubectl rollout status`, rule for rule and message for message
 * (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go), so what on-call sees in a
 * heartbeat is what they would see in a terminal, and "done" means what kubectl means.
 * Objects come straight from the apiserver, which has already applied defaults
 * (replicas, updateStrategy, partition).
 */
export function rolloutStatus(obj: WorkloadObject): RolloutStatus;
export function rolloutStatus(
  obj: V1Deployment | V1StatefulSet | V1DaemonSet,
  kind: WorkloadKind,
): RolloutStatus;
export function rolloutStatus(
  obj: V1Deployment | V1StatefulSet | V1DaemonSet,
  kind?: WorkloadKind,
): RolloutStatus {
  const k = kind ?? (obj as { kind?: string }).kind;
  switch (k) {
    case 'Deployment':
      return deploymentStatus(obj as V1Deployment);
    case 'StatefulSet':
      return statefulSetStatus(obj as V1StatefulSet);
    case 'DaemonSet':
      return daemonSetStatus(obj as V1DaemonSet);
    default:
      return { done: false, failed: true, message: `no status viewer has been implemented for ${String(k)}` };
  }
}

function deploymentStatus(d: V1Deployment): RolloutStatus {
  const name = d.metadata?.name ?? '';
  const st = d.status ?? {};
  if ((d.metadata?.generation ?? 0) <= (st.observedGeneration ?? 0)) {
    const progressing = (st.conditions ?? []).find((c) => c.type === 'Progressing');
    if (progressing?.reason === PROGRESS_DEADLINE_REASON) {
      return { done: false, failed: true, message: `deployment "${name}" exceeded its progress deadline` };
    }
    const updated = st.updatedReplicas ?? 0;
    const replicas = d.spec?.replicas;
    if (replicas !== undefined && updated < replicas) {
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${replicas} new replicas have been updated...`,
      };
    }
    if ((st.replicas ?? 0) > updated) {
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${(st.replicas ?? 0) - updated} old replicas are pending termination...`,
      };
    }
    if ((st.availableReplicas ?? 0) < updated) {
      return {
        done: false,
        message: `Waiting for deployment "${name}" rollout to finish: ${st.availableReplicas ?? 0} of ${updated} updated replicas are available...`,
      };
    }
    return { done: true, message: `deployment "${name}" successfully rolled out` };
  }
  return { done: false, message: 'Waiting for deployment spec update to be observed...' };
}

function statefulSetStatus(s: V1StatefulSet): RolloutStatus {
  const st = s.status ?? { replicas: 0 };
  const strategy = s.spec?.updateStrategy;
  if (strategy?.type !== 'RollingUpdate') {
    return {
      done: false,
      failed: true,
      message: 'rollout status is only available for RollingUpdate strategy type',
    };
  }
  const observed = st.observedGeneration ?? 0;
  if (observed === 0 || (s.metadata?.generation ?? 0) > observed) {
    return { done: false, message: 'Waiting for statefulset spec update to be observed...' };
  }
  const replicas = s.spec?.replicas;
  const ready = st.readyReplicas ?? 0;
  if (replicas !== undefined && ready < replicas) {
    return { done: false, message: `Waiting for ${replicas - ready} pods to be ready...` };
  }
  const updated = st.updatedReplicas ?? 0;
  if (strategy.rollingUpdate) {
    const partition = strategy.rollingUpdate.partition;
    if (replicas !== undefined && partition !== undefined && updated < replicas - partition) {
      return {
        done: false,
        message: `Waiting for partitioned roll out to finish: ${updated} out of ${replicas - partition} new pods have been updated...`,
      };
    }
    return { done: true, message: `partitioned roll out complete: ${updated} new pods have been updated...` };
  }
  if (st.updateRevision !== st.currentRevision) {
    return {
      done: false,
      message: `waiting for statefulset rolling update to complete ${updated} pods at revision ${st.updateRevision ?? ''}...`,
    };
  }
  return {
    done: true,
    message: `statefulset rolling update complete ${st.currentReplicas ?? 0} pods at revision ${st.currentRevision ?? ''}...`,
  };
}

function daemonSetStatus(ds: V1DaemonSet): RolloutStatus {
  const st = ds.status ?? {
    currentNumberScheduled: 0,
    desiredNumberScheduled: 0,
    numberMisscheduled: 0,
    numberReady: 0,
  };
  if (ds.spec?.updateStrategy?.type !== 'RollingUpdate') {
    return {
      done: false,
      failed: true,
      message: 'rollout status is only available for RollingUpdate strategy type',
    };
  }
  const name = ds.metadata?.name ?? '';
  if ((ds.metadata?.generation ?? 0) <= (st.observedGeneration ?? 0)) {
    const updated = st.updatedNumberScheduled ?? 0;
    const desired = st.desiredNumberScheduled ?? 0;
    if (updated < desired) {
      return {
        done: false,
        message: `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...`,
      };
    }
    const available = st.numberAvailable ?? 0;
    if (available < desired) {
      return {
        done: false,
        message: `Waiting for daemon set "${name}" rollout to finish: ${available} of ${desired} updated pods are available...`,
      };
    }
    return { done: true, message: `daemon set "${name}" successfully rolled out` };
  }
  return { done: false, message: 'Waiting for daemon set spec update to be observed...' };
}
