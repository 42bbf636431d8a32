// Names the rendered RBAC, its admission policies and the tests share.

/** The worker's ServiceAccount when `rotator rbac` is not told another (deploy/worker runs as it). */
export const DEFAULT_WORKER_ACCOUNT = { namespace: 'rustfs-rotator', name: 'rustfs-rotator' } as const;

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** The username the apiserver authenticates a ServiceAccount's tokens as. */
export const serviceAccountUser = (sa: ServiceAccountRef): string =>
  `system:serviceaccount:${sa.namespace}:${sa.name}`;

/** The cluster-scoped ValidatingAdmissionPolicies (each bound by a binding of the same name). */
export const ADMISSION_POLICY_NAMES = {
  /** Secret creation: only the zone and root Secrets and their `-pending` records. */
  secrets: 'rustfs-rotator-secret-names',
  /** Workload patches: only the named consumers and the store, only the restart annotation. */
  workloads: 'rustfs-rotator-restart-only',
  /** Pod deletion: only pods the store's StatefulSet controls. */
  pods: 'rustfs-rotator-store-pods',
} as const;

/** The files `rotator rbac --write <dir>` writes, in the order they are printed. */
export const RBAC_FILES = [
  'serviceaccount.yaml',
  'role.yaml',
  'rolebinding.yaml',
  'admission-policies.yaml',
] as const;
export type RbacFileName = (typeof RBAC_FILES)[number];
