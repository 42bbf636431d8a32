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
  zoneNamespaces: ['dashi-data', 'dashi-serving'],
  serving: {
    namespace: 'dashi-serving',
    secret: 'dashi-rustfs-serving',
    consumers: ['titiler', 'duckdb-endpoint'],
  },
} as const;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

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

export function platformManifests(root: Record<'access-key' | 'secret-key' | 'endpoint', string>) {
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
  const secretEnv = (envName: string, key: string) => ({
    name: envName,
    valueFrom: { secretKeyRef: { name: PLATFORM.rootSecret, key } },
  });
  const storeStatefulSet: V1StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: PLATFORM.statefulSet, namespace: PLATFORM.namespace, labels: { app: 'rustfs' } },
    spec: {
      replicas: 1,
      serviceName: PLATFORM.statefulSet,
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
              ],
            },
          ],
        },
      },
    },
  };
  const consumers = PLATFORM.serving.consumers.map((name, i) => consumerDeployment(name, i === 0 ? 2 : 1));
  return { namespaces, rootSecret, storeStatefulSet, consumers };
}
