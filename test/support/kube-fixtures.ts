/**
 * Fixtures for the integration tests (and the benchmarks) that run against the sandbox's
 * control plane: namespaces, workloads and consumers of their own.
 */
import { randomBytes } from 'node:crypto';
import type {
  V1Container,
  V1DaemonSet,
  V1Deployment,
  V1PodSpec,
  V1StatefulSet,
} from '@kubernetes/client-node';
import { type Kube } from '../../src/kube/client';
import { NEVER_READY_ANNOTATION } from '../../src/sandbox/kwok-stages';

export { NEVER_READY_ANNOTATION };

export function randomSuffix(): string {
  return randomBytes(3).toString('hex');
}

export async function createNamespace(kube: Kube, name: string): Promise<void> {
  await kube.core.createNamespace({
    body: { metadata: { name, labels: { 'rotator.rustfs.dev/test': 'true' } } },
  });
}

/** Foreground deletion is not awaited: the namespace controller finishes it after the test. */
export async function deleteNamespace(kube: Kube, name: string): Promise<void> {
  try {
    await kube.core.deleteNamespace({ name });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
  }
}

export interface PodTemplateOptions {
  containers?: V1Container[];
  initContainers?: V1Container[];
  volumes?: V1PodSpec['volumes'];
  neverReady?: boolean;
}

function podTemplate(app: string, o: PodTemplateOptions) {
  return {
    metadata: {
      labels: { app },
      annotations: o.neverReady ? { [NEVER_READY_ANNOTATION]: 'true' } : undefined,
    },
    spec: {
      containers: o.containers ?? [{ name: 'app', image: 'registry.invalid/app:1' }],
      initContainers: o.initContainers,
      volumes: o.volumes,
      terminationGracePeriodSeconds: 0,
    },
  };
}

export function deploymentManifest(
  name: string,
  o: PodTemplateOptions & { replicas?: number; paused?: boolean; progressDeadlineSeconds?: number } = {},
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name },
    spec: {
      replicas: o.replicas ?? 3,
      paused: o.paused,
      progressDeadlineSeconds: o.progressDeadlineSeconds,
      selector: { matchLabels: { app: name } },
      template: podTemplate(name, o),
    },
  };
}

export function statefulSetManifest(
  name: string,
  o: PodTemplateOptions & { replicas?: number } = {},
): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas: o.replicas ?? 3,
      serviceName: name,
      // Parallel keeps the tests quick; rolling updates are ordered one pod at a time regardless.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: name } },
      template: podTemplate(name, o),
    },
  };
}

export function daemonSetManifest(name: string, o: PodTemplateOptions = {}): V1DaemonSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name },
    spec: { selector: { matchLabels: { app: name } }, template: podTemplate(name, o) },
  };
}

/** A container reading `secretName` through env valueFrom.secretKeyRef. */
export function envConsumer(secretName: string, containerName = 'app'): V1Container {
  return {
    name: containerName,
    image: 'registry.invalid/app:1',
    env: [{ name: 'S3_SECRET_KEY', valueFrom: { secretKeyRef: { name: secretName, key: 'secret-key' } } }],
  };
}
