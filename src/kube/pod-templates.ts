import type { V1ObjectMeta, V1PodSpec } from '@kubernetes/client-node';
import { type Kube } from './client';
import { toKubeError } from './errors';

export type PodSourceKind = 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'CronJob' | 'Job' | 'Pod';

/** What pods a workload starts look like: the labels and spec of its pod template. */
export interface PodTemplateOf {
  kind: PodSourceKind;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  spec?: V1PodSpec;
}

const controlled = (meta: V1ObjectMeta | undefined, kinds?: string[]) =>
  (meta?.ownerReferences ?? []).some((o) => o.controller && (!kinds || kinds.includes(o.kind)));

type TemplateLike = { metadata?: V1ObjectMeta; spec?: V1PodSpec } | undefined;

function templateOf(kind: PodSourceKind, meta: V1ObjectMeta | undefined, tmpl: TemplateLike): PodTemplateOf {
  return {
    kind,
    namespace: meta?.namespace ?? '',
    name: meta?.name ?? '',
    labels: { ...(tmpl?.metadata?.labels ?? {}) },
    spec: tmpl?.spec,
  };
}

async function list<T>(
  resource: string,
  namespace: string | undefined,
  call: () => Promise<{ items: T[] }>,
): Promise<T[]> {
  try {
    return (await call()).items;
  } catch (err) {
    throw toKubeError(err, { verb: 'list', resource, namespace });
  }
}

const byPlace = (a: PodTemplateOf, b: PodTemplateOf) =>
  a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name);

/** The apps workloads' templates, cluster-wide or in one namespace (the worker's Role lists these). */
async function appsTemplates(kube: Kube, namespace?: string): Promise<PodTemplateOf[]> {
  const { apps } = kube;
  const ns = { namespace: namespace! };
  const [deployments, statefulSets, daemonSets] = await Promise.all([
    list('deployments.apps', namespace, () =>
      namespace ? apps.listNamespacedDeployment(ns) : apps.listDeploymentForAllNamespaces(),
    ),
    list('statefulsets.apps', namespace, () =>
      namespace ? apps.listNamespacedStatefulSet(ns) : apps.listStatefulSetForAllNamespaces(),
    ),
    list('daemonsets.apps', namespace, () =>
      namespace ? apps.listNamespacedDaemonSet(ns) : apps.listDaemonSetForAllNamespaces(),
    ),
  ]);
  return [
    ...deployments.map((d) => templateOf('Deployment', d.metadata, d.spec?.template)),
    ...statefulSets.map((s) => templateOf('StatefulSet', s.metadata, s.spec?.template)),
    ...daemonSets.map((d) => templateOf('DaemonSet', d.metadata, d.spec?.template)),
  ];
}

/**
 * Every pod template in the cluster (or one namespace), once: workloads by their template,
 * Jobs only when no CronJob made them, Pods only when no controller owns them (the others are
 * their workload's pods). Lists Jobs and CronJobs, which the worker's Role may not: this is
 * for the CLI's operator.
 */
export async function listPodTemplates(kube: Kube, namespace?: string): Promise<PodTemplateOf[]> {
  const { batch, core } = kube;
  const ns = { namespace: namespace! };
  const [workloads, cronJobs, jobs, pods] = await Promise.all([
    appsTemplates(kube, namespace),
    list('cronjobs.batch', namespace, () =>
      namespace ? batch.listNamespacedCronJob(ns) : batch.listCronJobForAllNamespaces(),
    ),
    list('jobs.batch', namespace, () =>
      namespace ? batch.listNamespacedJob(ns) : batch.listJobForAllNamespaces(),
    ),
    list('pods', namespace, () => (namespace ? core.listNamespacedPod(ns) : core.listPodForAllNamespaces())),
  ]);
  return [
    ...workloads,
    ...cronJobs.map((c) => templateOf('CronJob', c.metadata, c.spec?.jobTemplate.spec?.template)),
    ...jobs
      .filter((j) => !controlled(j.metadata, ['CronJob']))
      .map((j) => templateOf('Job', j.metadata, j.spec?.template)),
    ...pods.filter((p) => !controlled(p.metadata)).map((p) => templateOf('Pod', p.metadata, p)),
  ].sort(byPlace);
}

/**
 * The pod templates of one namespace that the worker's Role can list: the apps workloads'
 * templates and every live pod (flow-run Job pods are seen only as pods: the worker may not
 * list Jobs). A pod of a workload appears beside its workload, which costs nothing to a
 * check that asks "is any of these refused".
 */
export async function listNamespacePodTemplates(kube: Kube, namespace: string): Promise<PodTemplateOf[]> {
  const [workloads, pods] = await Promise.all([
    appsTemplates(kube, namespace),
    list('pods', namespace, () => kube.core.listNamespacedPod({ namespace })),
  ]);
  return [
    ...workloads,
    ...pods
      .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
      .map((p) => templateOf('Pod', p.metadata, p)),
  ].sort(byPlace);
}
