import type { V1Container, V1PodSpec } from '@kubernetes/client-node';

/** How a pod spec uses a Secret; each one makes the pod hold a copy of the value from its start. */
export type SecretRefVia =
  | `env:${string}/${string}` // container/variable (valueFrom.secretKeyRef)
  | `envFrom:${string}` // container (envFrom.secretRef)
  | `volume:${string}` // volume name (secret volume)
  | `projected:${string}`; // volume name (projected volume source)

type AnyContainer = Pick<V1Container, 'name' | 'env' | 'envFrom'>;

/**
 * Every place in a pod spec that reads the named Secret: env valueFrom.secretKeyRef,
 * envFrom.secretRef, secret volumes and projected volume sources, in containers, init
 * containers and ephemeral containers. The pod's own namespace is implied: a pod can only
 * reference Secrets of its namespace. imagePullSecrets are not consumers of the value.
 */
export function secretReferences(spec: V1PodSpec | undefined, secretName: string): SecretRefVia[] {
  if (!spec) return [];
  const via: SecretRefVia[] = [];
  const containers: AnyContainer[] = [
    ...(spec.initContainers ?? []),
    ...(spec.containers ?? []),
    ...(spec.ephemeralContainers ?? []),
  ];
  for (const c of containers) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name === secretName) via.push(`env:${c.name}/${e.name}`);
    }
    for (const ef of c.envFrom ?? []) {
      if (ef.secretRef?.name === secretName) via.push(`envFrom:${c.name}`);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret?.secretName === secretName) via.push(`volume:${v.name}`);
    for (const src of v.projected?.sources ?? []) {
      if (src.secret?.name === secretName) {
        via.push(`projected:${v.name}`);
        break;
      }
    }
  }
  return via;
}

export function referencesSecret(spec: V1PodSpec | undefined, secretName: string): boolean {
  return secretReferences(spec, secretName).length > 0;
}
