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

/**
 * Every pod template in the cluster, once: workloads by their template, Jobs only when no
 * CronJob made them, Pods only when no controller owns them (the others are their
 * workload's pods). Cluster-wide list, so this is for the CLI's operator, not the worker.
 */
export async function listPodTemplates(kube: Kube): Promise<PodTemplateOf[]> {
  const list = async <T>(resource: string, call: () => Promise<{ items: T[] }>) => {
    try {
      return (await call()).items;
    } catch (err) {
      throw toKubeError(err, { verb: 'list', resource });
    }
  };
  const [deployments, statefulSets, daemonSets, cronJobs, jobs, pods] = await Promise.all([
    list('deployments.apps', () => kube.apps.listDeploymentForAllNamespaces()),
    list('statefulsets.apps', () => kube.apps.listStatefulSetForAllNamespaces()),
    list('daemonsets.apps', () => kube.apps.listDaemonSetForAllNamespaces()),
    list('cronjobs.batch', () => kube.batch.listCronJobForAllNamespaces()),
    list('jobs.batch', () => kube.batch.listJobForAllNamespaces()),
    list('pods', () => kube.core.listPodForAllNamespaces()),
  ]);
  const out: PodTemplateOf[] = [];
  const of = (
    kind: PodSourceKind,
    meta: V1ObjectMeta | undefined,
    tmpl: { metadata?: V1ObjectMeta; spec?: V1PodSpec } | undefined,
  ) =>
    out.push({
      kind,
      namespace: meta?.namespace ?? '',
      name: meta?.name ?? '',
      labels: { ...(tmpl?.metadata?.labels ?? {}) },
      spec: tmpl?.spec,
    });
  for (const d of deployments) of('Deployment', d.metadata, d.spec?.template);
  for (const s of statefulSets) of('StatefulSet', s.metadata, s.spec?.template);
  for (const d of daemonSets) of('DaemonSet', d.metadata, d.spec?.template);
  for (const c of cronJobs) of('CronJob', c.metadata, c.spec?.jobTemplate.spec?.template);
  for (const j of jobs) if (!controlled(j.metadata, ['CronJob'])) of('Job', j.metadata, j.spec?.template);
  for (const p of pods)
    if (!controlled(p.metadata)) of('Pod', p.metadata, { metadata: p.metadata, spec: p.spec });
  return out.sort(
    (a, b) =>
      a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name),
  );
}
