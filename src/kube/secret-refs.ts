import type { V1Container, V1PodSpec } from '@kubernetes/client-node';

/** How a pod spec uses a Secret; each one makes the pod hold a copy of the value from its start. */
export type SecretRefVia =
  | `env:${string}/${string}` // container/variable (valueFrom.secretKeyRef)
  | `envFrom:${string}` // container (envFrom.secretRef)
  | `volume:${string}` // volume name (secret volume)
  | `projected:${string}`; // volume name (projected volume source)

type AnyContainer = Pick<V1Container, 'name' | 'env' | 'envFrom'>;

export interface SecretRef {
  secret: string;
  via: SecretRefVia;
}

/**
 * Every place in a pod spec that reads a Secret: env valueFrom.secretKeyRef,
 * envFrom.secretRef, secret volumes and projected volume sources, in containers, init
 * containers and ephemeral containers. The pod's own namespace is implied: a pod can only
 * reference Secrets of its namespace. imagePullSecrets are not consumers of the value.
 */
export function allSecretReferences(spec: V1PodSpec | undefined): SecretRef[] {
  if (!spec) return [];
  const refs: SecretRef[] = [];
  const containers: AnyContainer[] = [
    ...(spec.initContainers ?? []),
    ...(spec.containers ?? []),
    ...(spec.ephemeralContainers ?? []),
  ];
  for (const c of containers) {
    for (const e of c.env ?? []) {
      const secret = e.valueFrom?.secretKeyRef?.name;
      if (secret) refs.push({ secret, via: `env:${c.name}/${e.name}` });
    }
    for (const ef of c.envFrom ?? []) {
      if (ef.secretRef?.name) refs.push({ secret: ef.secretRef.name, via: `envFrom:${c.name}` });
    }
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret?.secretName) refs.push({ secret: v.secret.secretName, via: `volume:${v.name}` });
    const projected = new Set((v.projected?.sources ?? []).flatMap((src) => src.secret?.name ?? []));
    for (const secret of projected) refs.push({ secret, via: `projected:${v.name}` });
  }
  return refs;
}

/** The places a pod spec reads the named Secret (see allSecretReferences). */
export function secretReferences(spec: V1PodSpec | undefined, secretName: string): SecretRefVia[] {
  return allSecretReferences(spec)
    .filter((r) => r.secret === secretName)
    .map((r) => r.via);
}

export function referencesSecret(spec: V1PodSpec | undefined, secretName: string): boolean {
  return secretReferences(spec, secretName).length > 0;
}
