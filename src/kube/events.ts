// Kubernetes Events (core/v1) on the objects a run changed, so `kubectl describe secret …`
// and `kubectl describe deployment …` tell what the rotator did to them and when. Messages
// carry access-key IDs and fingerprints only: an Event is readable by anyone who may list
// events in the namespace, which is far more people than may read the Secret.
import { createHash } from 'node:crypto';
import { type CoreV1Event } from '@kubernetes/client-node';
import { type Kube } from './client';
import { KubeConflictError, KubeNotFoundError, toKubeError } from './errors';
import { type WorkloadRef } from './rollout';

export const EVENT_COMPONENT = 'rustfs-rotator';
/** events.k8s.io caps `note` at 1 kB; the core API does not, but readers expect the same. */
const MAX_MESSAGE = 1024;

export type EventObjectRef = { kind: 'Secret'; namespace: string; name: string } | WorkloadRef;

export interface EventSpec {
  regarding: EventObjectRef;
  type: 'Normal' | 'Warning';
  /** CamelCase, the convention kubectl and dashboards group by. */
  reason: string;
  message: string;
}

const API_VERSION: Record<EventObjectRef['kind'], string> = {
  Secret: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
};

/** The object's uid and resourceVersion: `kubectl describe` selects events by uid. */
async function identify(
  kube: Kube,
  ref: EventObjectRef,
): Promise<{ uid?: string; resourceVersion?: string }> {
  const args = { namespace: ref.namespace, name: ref.name };
  const plural = ref.kind === 'Secret' ? 'secrets' : `${ref.kind.toLowerCase()}s.apps`;
  try {
    const obj =
      ref.kind === 'Secret'
        ? await kube.core.readNamespacedSecret(args)
        : ref.kind === 'Deployment'
          ? await kube.apps.readNamespacedDeployment(args)
          : ref.kind === 'StatefulSet'
            ? await kube.apps.readNamespacedStatefulSet(args)
            : await kube.apps.readNamespacedDaemonSet(args);
    // Only the metadata leaves this function: a Secret's data is dropped here.
    return { uid: obj.metadata?.uid, resourceVersion: obj.metadata?.resourceVersion };
  } catch (err) {
    throw toKubeError(err, { verb: 'get', resource: plural, namespace: ref.namespace, name: ref.name });
  }
}

/**
 * Records one Event. `key` makes the Event's name deterministic, so a retried activity
 * finds its own Event (409) instead of recording it twice. Returns false when the object
 * no longer exists (nothing to describe).
 */
export async function recordEvent(
  kube: Kube,
  spec: EventSpec,
  opts: { key: string; instance: string; at?: Date },
): Promise<'created' | 'exists' | 'object-missing'> {
  const { regarding } = spec;
  let id: { uid?: string; resourceVersion?: string };
  try {
    id = await identify(kube, regarding);
  } catch (err) {
    if (err instanceof KubeNotFoundError) return 'object-missing';
    throw err;
  }
  const at = (opts.at ?? new Date()).toISOString();
  const suffix = createHash('sha256').update(opts.key).digest('hex').slice(0, 16);
  const name = `${regarding.name.slice(0, 200)}.${suffix}`;
  const body: CoreV1Event = {
    metadata: { name, namespace: regarding.namespace },
    involvedObject: {
      apiVersion: API_VERSION[regarding.kind],
      kind: regarding.kind,
      namespace: regarding.namespace,
      name: regarding.name,
      uid: id.uid,
      resourceVersion: id.resourceVersion,
    },
    type: spec.type,
    reason: spec.reason,
    message: spec.message.length > MAX_MESSAGE ? `${spec.message.slice(0, MAX_MESSAGE - 1)}…` : spec.message,
    source: { component: EVENT_COMPONENT },
    reportingComponent: EVENT_COMPONENT,
    reportingInstance: opts.instance.slice(0, 128),
    action: spec.reason,
    // The client serialises Date fields; typed as Date, sent as RFC 3339.
    firstTimestamp: new Date(at),
    lastTimestamp: new Date(at),
    count: 1,
  };
  try {
    await kube.core.createNamespacedEvent({ namespace: regarding.namespace, body });
    return 'created';
  } catch (err) {
    const e = toKubeError(err, { verb: 'create', resource: 'events', namespace: regarding.namespace, name });
    if (e instanceof KubeConflictError) return 'exists';
    throw e;
  }
}
