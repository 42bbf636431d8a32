import {
  type V1Deployment,
  type V1Namespace,
  type V1Secret,
  type V1StatefulSet,
} from '@kubernetes/client-node';
import { ZONE_CLIENT_LABEL } from '../inventory/schema';
import { AGENT_MANAGED_ANNOTATION } from './kwok-stages';

/** The dashi platform as the seed runbook describes it, minus the per-zone Secrets. */
export const PLATFORM = {
  namespace: 'dashi-platform',
  statefulSet: 'rustfs',
  rootSecret: 'rustfs-root',
  /** A multi-node store's node-to-node secret, pinned apart from the root (RUSTFS_RPC_SECRET). */
  rpcSecret: { name: 'rustfs-rpc', key: 'rpc-secret' },
  zoneNamespaces: ['dashi-data', 'dashi-serving'],
  serving: {
    namespace: 'dashi-serving',
    secret: 'dashi-rustfs-serving',
    consumers: ['titiler', 'duckdb-endpoint'],
  },
} as const;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** How long a replaced store pod stays Ready before a rolling update moves on (see below). */
export const MULTI_NODE_MIN_READY_SECONDS = 15;

function consumerDeployment(name: string, replicas: number): V1Deployment {
  const { namespace, secret } = PLATFORM.serving;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      // Surge before removing anything: consumers stay available through a restart.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        // The zone's client label: the store's NetworkPolicy admits them by it.
        metadata: { labels: { app: name, [ZONE_CLIENT_LABEL]: 'serving' } },
        spec: {
          containers: [
            {
              name,
              image: `dashi/${name}:sandbox`,
              envFrom: [{ secretRef: { name: secret } }],
            },
          ],
        },
      },
    },
  };
}

/**
 * The platform's objects. `store.replicas` > 1 is a distributed store: its pods start together
 * (podManagementPolicy Parallel: a node waits for the others' drives, so an ordered start would
 * never finish) and, when `store.rpcSecret` is given, read RUSTFS_RPC_SECRET from a Secret of
 * its own, as RustFS's procedure for changing the root asks.
 */
export function platformManifests(
  root: Record<'access-key' | 'secret-key' | 'endpoint', string>,
  store: { replicas: number; rpcSecret?: string } = { replicas: 1 },
) {
  const namespaces: V1Namespace[] = [PLATFORM.namespace, ...PLATFORM.zoneNamespaces].map((name) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  }));
  const rootSecret: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: PLATFORM.rootSecret, namespace: PLATFORM.namespace },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(root).map(([k, v]) => [k, b64(v)])),
  };
  const secretEnv = (envName: string, key: string, name: string = PLATFORM.rootSecret) => ({
    name: envName,
    valueFrom: { secretKeyRef: { name, key } },
  });
  const rpcSecret: V1Secret | undefined = store.rpcSecret
    ? {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: PLATFORM.rpcSecret.name, namespace: PLATFORM.namespace },
        type: 'Opaque',
        data: { [PLATFORM.rpcSecret.key]: b64(store.rpcSecret) },
      }
    : undefined;
  const storeStatefulSet: V1StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: PLATFORM.statefulSet, namespace: PLATFORM.namespace, labels: { app: 'rustfs' } },
    spec: {
      replicas: store.replicas,
      serviceName: PLATFORM.statefulSet,
      // A node serving again is not seen by its peers at once: replacing the next one sooner
      // left the others answering 503 SlowDown for a moment (RustFS 1.0.0-rc.3, 4 nodes on one
      // 2-core machine: up to 8.5 s after the restarted node's /health/ready, none with 12 s
      // between nodes). The rolling update waits until a replaced pod has been Ready this long.
      ...(store.replicas > 1
        ? { podManagementPolicy: 'Parallel', minReadySeconds: MULTI_NODE_MIN_READY_SECONDS }
        : {}),
      selector: { matchLabels: { app: 'rustfs' } },
      updateStrategy: { type: 'RollingUpdate' },
      template: {
        // The node agent, not kwok, reports this pod's status from the real store process.
        metadata: { labels: { app: 'rustfs' }, annotations: { [AGENT_MANAGED_ANNOTATION]: 'true' } },
        spec: {
          containers: [
            {
              name: 'rustfs',
              image: 'rustfs/rustfs:sandbox',
              env: [
                secretEnv('RUSTFS_ACCESS_KEY', 'access-key'),
                secretEnv('RUSTFS_SECRET_KEY', 'secret-key'),
                ...(rpcSecret
                  ? [secretEnv('RUSTFS_RPC_SECRET', PLATFORM.rpcSecret.key, PLATFORM.rpcSecret.name)]
                  : []),
              ],
            },
          ],
        },
      },
    },
  };
  const consumers = PLATFORM.serving.consumers.map((name, i) => consumerDeployment(name, i === 0 ? 2 : 1));
  return { namespaces, rootSecret, rpcSecret, storeStatefulSet, consumers };
}
