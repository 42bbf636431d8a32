import {
  PatchStrategy,
  setHeaderOptions,
  type V1DaemonSet,
  type V1Deployment,
  type V1Pod,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { type Kube } from './client';
import {
  KubeConflictError,
  KubeError,
  KubeNotFoundError,
  KubeRolloutError,
  KubeRolloutTimeoutError,
  toKubeError,
  type KubeRequestContext,
} from './errors';
import { rolloutStatus, type RolloutStatus, type WorkloadKind, type WorkloadRef } from './rollout-status';

export { rolloutStatus, type RolloutStatus, type WorkloadKind, type WorkloadRef } from './rollout-status';

/** The annotation `kubectl rollout restart` sets on the pod template. */
export const RESTARTED_AT_ANNOTATION = 'kubectl.kubernetes.io/restartedAt';

type Workload = V1Deployment | V1StatefulSet | V1DaemonSet;

const PLURAL: Record<WorkloadKind, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
};

const ctx = (verb: string, ref: WorkloadRef): KubeRequestContext => ({
  verb,
  resource: `${PLURAL[ref.kind]}.apps`,
  namespace: ref.namespace,
  name: ref.name,
});

/**
 * RFC 3339 like kubectl's, but with milliseconds: kubectl's second precision makes two
 * restarts within one second the same patch, and the second one restarts nothing —
 * consumers would keep the previous key while the rotation believes they moved.
 */
export function restartedAtValue(at: Date): string {
  return at.toISOString();
}

/** The exact body `kubectl rollout restart` sends (a strategic-merge patch of the pod template). */
export function restartPatch(at: Date): object {
  return {
    spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: restartedAtValue(at) } } } },
  };
}

export async function readWorkload(kube: Kube, ref: WorkloadRef): Promise<Workload> {
  const { name, namespace } = ref;
  try {
    switch (ref.kind) {
      case 'Deployment':
        return await kube.apps.readNamespacedDeployment({ name, namespace });
      case 'StatefulSet':
        return await kube.apps.readNamespacedStatefulSet({ name, namespace });
      case 'DaemonSet':
        return await kube.apps.readNamespacedDaemonSet({ name, namespace });
    }
  } catch (err) {
    throw toKubeError(err, ctx('get', ref));
  }
}

/**
 * `kubectl rollout restart`. The same `at` twice is the same patch, so a retried activity
 * does not start a second rollout; `changed` tells whether this call started one.
 * A paused Deployment is refused as kubectl refuses it: the patch would be accepted but
 * nothing would roll, and the wait afterwards would only time out.
 */
export async function rolloutRestart(kube: Kube, ref: WorkloadRef, at: Date): Promise<{ changed: boolean }> {
  const current = await readWorkload(kube, ref);
  if (ref.kind === 'Deployment' && (current as V1Deployment).spec?.paused) {
    throw new KubeRolloutError(
      `can't restart paused deployment "${ref.name}" in namespace "${ref.namespace}" (run rollout resume first)`,
      ctx('patch', ref),
    );
  }
  const value = restartedAtValue(at);
  if (current.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION] === value)
    return { changed: false };
  const { name, namespace } = ref;
  const body = restartPatch(at);
  // Without the explicit content type the client sends an object body as a JSON patch, which the apiserver rejects.
  const options = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);
  try {
    switch (ref.kind) {
      case 'Deployment':
        await kube.apps.patchNamespacedDeployment({ name, namespace, body }, options);
        break;
      case 'StatefulSet':
        await kube.apps.patchNamespacedStatefulSet({ name, namespace, body }, options);
        break;
      case 'DaemonSet':
        await kube.apps.patchNamespacedDaemonSet({ name, namespace, body }, options);
        break;
    }
  } catch (err) {
    throw toKubeError(err, ctx('patch', ref));
  }
  return { changed: true };
}

export interface WaitForRolloutOptions {
  timeoutMs: number;
  /** kubectl's progress line; called when it changes and at least every `progressIntervalMs` (for heartbeats). */
  onProgress?: (message: string) => void;
  progressIntervalMs?: number;
  signal?: AbortSignal;
}

/**
 * `kubectl rollout status --timeout`: evaluates the workload on every watch event rather than
 * polling, re-reading whenever the watch ends (server timeout, compaction, dropped connection).
 * Resolves with kubectl's success line; throws KubeRolloutError when kubectl would exit with an
 * error (progress deadline exceeded, workload deleted, unsupported strategy) and
 * KubeRolloutTimeoutError when the time runs out.
 */
export async function waitForRollout(
  kube: Kube,
  ref: WorkloadRef,
  opts: WaitForRolloutOptions,
): Promise<RolloutStatus> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = '';
  const report = (status: RolloutStatus) => {
    if (status.message !== last) {
      last = status.message;
      opts.onProgress?.(last);
    }
  };
  const ticker = setInterval(() => {
    if (last) opts.onProgress?.(last);
  }, opts.progressIntervalMs ?? 10_000);
  ticker.unref();

  const settle = (status: RolloutStatus): RolloutStatus | undefined => {
    report(status);
    if (status.failed) throw new KubeRolloutError(status.message, ctx('watch', ref));
    return status.done ? status : undefined;
  };

  try {
    for (;;) {
      throwIfAborted(opts.signal);
      const obj = await readWorkload(kube, ref);
      const now = settle(rolloutStatus(obj, ref.kind));
      if (now) return now;
      if (Date.now() >= deadline) throw new KubeRolloutTimeoutError(ctx('watch', ref), last);
      const started = Date.now();
      const result = await watchUntil(kube, ref, obj.metadata?.resourceVersion, deadline, opts.signal, (o) =>
        settle(rolloutStatus(o, ref.kind)),
      );
      if (result === 'timeout') throw new KubeRolloutTimeoutError(ctx('watch', ref), last);
      if (typeof result === 'object') return result;
      // A watch that ends at once (e.g. apiserver restarting) must not turn into a tight loop.
      if (Date.now() - started < 1000)
        await delay(Math.min(1000, Math.max(0, deadline - Date.now())), opts.signal);
    }
  } finally {
    clearInterval(ticker);
  }
}

type WatchResult = RolloutStatus | 'relist' | 'timeout';

function watchUntil(
  kube: Kube,
  ref: WorkloadRef,
  resourceVersion: string | undefined,
  deadline: number,
  signal: AbortSignal | undefined,
  evaluate: (obj: Workload) => RolloutStatus | undefined,
): Promise<WatchResult> {
  return new Promise<WatchResult>((resolve, reject) => {
    let finished = false;
    let controller: AbortController | undefined;
    const remainingMs = deadline - Date.now();
    const finish = (fn: () => void) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      controller?.abort();
      fn();
    };
    const timer = setTimeout(() => finish(() => resolve('timeout')), Math.max(0, remainingMs));
    const onAbort = () => finish(() => reject(abortReason(signal)));
    signal?.addEventListener('abort', onAbort, { once: true });

    const path = `/apis/apps/v1/namespaces/${encodeURIComponent(ref.namespace)}/${PLURAL[ref.kind]}`;
    const params = {
      fieldSelector: `metadata.name=${ref.name}`,
      resourceVersion,
      allowWatchBookmarks: true,
      // The server ends the watch a little after the deadline at the latest; we re-read then.
      timeoutSeconds: Math.max(1, Math.min(300, Math.ceil(remainingMs / 1000) + 5)),
    };
    kube.watch
      .watch(
        path,
        params,
        (type: string, obj: Workload) => {
          if (finished) return;
          try {
            if (type === 'ADDED' || type === 'MODIFIED') {
              const done = evaluate(obj);
              if (done) finish(() => resolve(done));
            } else if (type === 'DELETED') {
              finish(() =>
                reject(
                  new KubeRolloutError(
                    `${ref.kind.toLowerCase()} "${ref.name}": object has been deleted`,
                    ctx('watch', ref),
                  ),
                ),
              );
            } else if (type === 'ERROR') {
              // Typically 410 Gone (resourceVersion compacted): start over from a fresh read.
              finish(() => resolve('relist'));
            }
          } catch (err) {
            finish(() => reject(err));
          }
        },
        (err: unknown) => {
          if (!err) return finish(() => resolve('relist'));
          const e = toKubeError(err, ctx('watch', ref));
          // Lost connections are retried by re-reading; a denied or invalid watch is final.
          if (e instanceof KubeError && e.nonRetryable && !(e instanceof KubeNotFoundError))
            finish(() => reject(e));
          else finish(() => resolve('relist'));
        },
      )
      .then((c) => {
        controller = c;
        if (finished) c.abort();
      })
      .catch((err: unknown) => finish(() => reject(toKubeError(err, ctx('watch', ref)))));
  });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

function abortReason(signal: AbortSignal | undefined): unknown {
  const reason: unknown = signal?.reason;
  if (reason !== undefined) return reason;
  const e = new Error('The rollout wait was aborted');
  e.name = 'AbortError';
  return e;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(abortReason(signal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A pod a forced rollback deletes: its name, and its UID as the delete's precondition. */
export interface PodToDelete {
  name: string;
  uid: string;
}

/**
 * Which of `pods` a forced rollback of `sts` may delete: only pods this very StatefulSet
 * controls (a controller ownerReference with its UID, not merely its labels: another pod, or
 * the pod of an earlier StatefulSet of the same name, may carry the same labels), that are
 * not Ready, belong to an older revision than the update revision, and are not already
 * being deleted. Nothing without an update revision or a UID to compare.
 */
export function podsToForceDelete(sts: V1StatefulSet, pods: V1Pod[]): PodToDelete[] {
  const uid = sts.metadata?.uid;
  const updateRevision = sts.status?.updateRevision;
  if (!uid || !updateRevision) return [];
  return pods.flatMap((pod) => {
    const controlled = (pod.metadata?.ownerReferences ?? []).some(
      (o) => o.controller === true && o.kind === 'StatefulSet' && o.uid === uid,
    );
    const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const revision = pod.metadata?.labels?.['controller-revision-hash'];
    const name = pod.metadata?.name;
    const podUid = pod.metadata?.uid;
    if (!controlled || ready || revision === updateRevision || pod.metadata?.deletionTimestamp) return [];
    return name && podUid ? [{ name, uid: podUid }] : [];
  });
}

/**
 * Kubernetes' documented "forced rollback" for StatefulSets: a rollout whose pod never
 * became Ready is not replaced by a later template change — the controller waits for it
 * forever. After the template is reverted, the broken pods (not Ready, from an older
 * revision than the update revision) must be deleted so the controller recreates them.
 * Only pods the StatefulSet controls (checked against its UID) are deleted, each under a UID
 * precondition, so a pod recreated meanwhile under the same name is left alone.
 * Returns the names of the pods deleted.
 */
export async function forceStatefulSetRollback(
  kube: Kube,
  ref: WorkloadRef,
  timeoutMs = 30_000,
): Promise<string[]> {
  if (ref.kind !== 'StatefulSet') return [];
  const deadline = Date.now() + timeoutMs;
  let sts = await readWorkload(kube, ref);
  // The revision to keep is known once the controller has seen the latest template.
  while ((sts.status?.observedGeneration ?? 0) < (sts.metadata?.generation ?? 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    sts = await readWorkload(kube, ref);
  }
  const labels = (sts as V1StatefulSet).spec?.selector?.matchLabels ?? {};
  const labelSelector = Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const pods = await kube.core
    .listNamespacedPod({ namespace: ref.namespace, labelSelector })
    .catch((err: unknown) => {
      throw toKubeError(err, { verb: 'list', resource: 'pods', namespace: ref.namespace });
    });
  const deleted: string[] = [];
  for (const { name, uid } of podsToForceDelete(sts as V1StatefulSet, pods.items)) {
    try {
      await kube.core.deleteNamespacedPod({
        name,
        namespace: ref.namespace,
        body: { preconditions: { uid } },
      });
      deleted.push(name);
    } catch (err) {
      const e = toKubeError(err, { verb: 'delete', resource: 'pods', namespace: ref.namespace, name });
      // Gone already, or replaced by a new pod of that name (UID precondition): nothing to delete.
      if (e instanceof KubeNotFoundError || e instanceof KubeConflictError) continue;
      throw e;
    }
  }
  return deleted;
}

/** A store pod as it ran when it was deleted: its replacement has another UID. */
export interface ReplacedPod {
  pod: string;
  /** The deleted pod's UID; empty when no pod of that name ran. */
  uid: string;
}

/**
 * Restarts the named pods of a StatefulSet by deleting them: the controller recreates each
 * under its name, and its container reads the Secrets it references anew (the new root). The
 * template is not changed, so nothing else restarts (a `rollout restart` replaces every pod, one
 * after the other, checking nothing but readiness). Only pods the StatefulSet controls (checked
 * against its UID) are deleted, each under a UID precondition. A pod already gone (replaced, or
 * not yet recreated) counts as restarted: its next container reads the Secret anew too.
 */
export async function deleteStatefulSetPods(
  kube: Kube,
  ref: WorkloadRef,
  pods: readonly string[],
): Promise<ReplacedPod[]> {
  const sts = (await readWorkload(kube, ref)) as V1StatefulSet;
  const stsUid = sts.metadata?.uid;
  const replaced: ReplacedPod[] = [];
  for (const name of pods) {
    // Listed by name: the worker may list pods, not get them (src/rbac/render.ts).
    const listed = await kube.core
      .listNamespacedPod({ namespace: ref.namespace, fieldSelector: `metadata.name=${name}` })
      .catch((err: unknown) => {
        throw toKubeError(err, { verb: 'list', resource: 'pods', namespace: ref.namespace });
      });
    const pod = listed.items[0];
    if (!pod) {
      replaced.push({ pod: name, uid: '' });
      continue;
    }
    const controlled = (pod.metadata?.ownerReferences ?? []).some(
      (o) => o.controller === true && o.kind === 'StatefulSet' && o.uid === stsUid,
    );
    if (!controlled)
      throw new Error(`pod ${ref.namespace}/${name} is not controlled by StatefulSet ${ref.name}: not deleted`);
    const uid = pod.metadata!.uid!;
    replaced.push({ pod: name, uid });
    if (pod.metadata?.deletionTimestamp) continue;
    try {
      await kube.core.deleteNamespacedPod({ name, namespace: ref.namespace, body: { preconditions: { uid } } });
    } catch (err) {
      const e = toKubeError(err, { verb: 'delete', resource: 'pods', namespace: ref.namespace, name });
      if (e instanceof KubeNotFoundError || e instanceof KubeConflictError) continue;
      throw e;
    }
  }
  return replaced;
}
