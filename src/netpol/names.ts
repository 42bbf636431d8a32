// Names the rendered policies, the activity that applies them and the workflow's plan share;
// free of imports so the workflow bundle can use them.
export const STORE_POLICY_NAME = 'rotator-store-access';
export const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'rustfs-rotator' } as const;
/** Set by the apiserver on every namespace (Kubernetes >= 1.21): selects a namespace by name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
