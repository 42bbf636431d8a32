import { inspect } from 'node:util';
import type { V1Secret } from '@kubernetes/client-node';
import { type Kube } from './client';
import { KubeConflictError, KubeNotFoundError, toKubeError, type KubeRequestContext } from './errors';

export interface SecretData {
  /** Decoded (UTF-8) values by key. */
  data: Record<string, string>;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  resourceVersion: string;
}

export interface SecretChange {
  /** The complete new data: keys absent (or undefined) here are removed from the Secret. */
  data: Record<string, string | undefined>;
  /** Merged over the existing annotations (others' annotations are kept). */
  annotations?: Record<string, string>;
  /** Merged over the existing labels. */
  labels?: Record<string, string>;
}

export type SecretUpdateResult =
  | { outcome: 'created' | 'updated'; resourceVersion: string; attempts: number }
  | { outcome: 'unchanged'; resourceVersion?: string; attempts: number };

export const ROTATION_ANNOTATION_PREFIX = 'rotator.rustfs.dev/';
export const ROTATION_ANNOTATIONS = {
  rotatedAt: `${ROTATION_ANNOTATION_PREFIX}rotated-at`,
  workflowId: `${ROTATION_ANNOTATION_PREFIX}workflow-id`,
  fingerprint: `${ROTATION_ANNOTATION_PREFIX}fingerprint`,
} as const;

const MAX_CONFLICT_ATTEMPTS = 8;

const ctx = (verb: string, namespace: string, name: string): KubeRequestContext => ({
  verb,
  resource: 'secrets',
  namespace,
  name,
});

/** Where the last rotation came from, readable with `kubectl describe secret` without revealing the key. */
export function rotationAnnotations(input: {
  at: Date;
  workflowId: string;
  fingerprint: string;
}): Record<string, string> {
  return {
    [ROTATION_ANNOTATIONS.rotatedAt]: input.at.toISOString(),
    [ROTATION_ANNOTATIONS.workflowId]: input.workflowId,
    [ROTATION_ANNOTATIONS.fingerprint]: input.fingerprint,
  };
}

export async function readSecret(kube: Kube, namespace: string, name: string): Promise<SecretData | null> {
  try {
    const secret = await kube.core.readNamespacedSecret({ name, namespace });
    return toSecretData(secret);
  } catch (err) {
    const e = toKubeError(err, ctx('get', namespace, name));
    if (e instanceof KubeNotFoundError) return null;
    throw e;
  }
}

/**
 * Makes the Secret hold exactly `data`, creating it if needed. Annotations and labels are
 * merged so metadata written by others survives; still conflict-safe, since it goes
 * through `updateSecret`.
 */
export async function createOrReplaceSecret(
  kube: Kube,
  namespace: string,
  name: string,
  data: Record<string, string>,
  opts: { annotations?: Record<string, string>; labels?: Record<string, string> } = {},
): Promise<SecretUpdateResult> {
  return updateSecret(kube, namespace, name, () => ({
    data,
    annotations: opts.annotations,
    labels: opts.labels,
  }));
}

/**
 * Read-modify-write with optimistic concurrency: the write carries the resourceVersion that
 * was read, so a concurrent writer makes it fail with 409 instead of being overwritten; the
 * Secret is then re-read and `mutate` runs again on the fresh value. `mutate` returning null
 * (or the same content) writes nothing. `mutate` may run several times: keep it pure.
 */
export async function updateSecret(
  kube: Kube,
  namespace: string,
  name: string,
  mutate: (current: SecretData | null) => SecretChange | null,
): Promise<SecretUpdateResult> {
  for (let attempt = 1; ; attempt++) {
    const current = await readSecret(kube, namespace, name);
    const change = mutate(current);
    if (!change || (current && sameContent(current, change))) {
      return { outcome: 'unchanged', resourceVersion: current?.resourceVersion, attempts: attempt };
    }
    try {
      if (!current) {
        const created = await kube.core
          .createNamespacedSecret({ namespace, body: toV1Secret(name, namespace, change) })
          .catch((err: unknown) => {
            throw toKubeError(err, ctx('create', namespace, name));
          });
        return {
          outcome: 'created',
          resourceVersion: created.metadata?.resourceVersion ?? '',
          attempts: attempt,
        };
      }
      const body = toV1Secret(name, namespace, {
        data: change.data,
        annotations: { ...current.annotations, ...change.annotations },
        labels: { ...current.labels, ...change.labels },
      });
      body.metadata!.resourceVersion = current.resourceVersion;
      const replaced = await kube.core
        .replaceNamespacedSecret({ name, namespace, body })
        .catch((err: unknown) => {
          throw toKubeError(err, ctx('update', namespace, name));
        });
      return {
        outcome: 'updated',
        resourceVersion: replaced.metadata?.resourceVersion ?? '',
        attempts: attempt,
      };
    } catch (err) {
      // 409 (modified meanwhile, or created meanwhile) and 404 (deleted meanwhile) all mean
      // "what we read is stale": re-read and decide again.
      const stale = err instanceof KubeConflictError || (err instanceof KubeNotFoundError && current);
      if (!stale) throw err;
      if (attempt >= MAX_CONFLICT_ATTEMPTS) {
        throw new KubeConflictError(
          ctx('update', namespace, name),
          'TooManyConflicts',
          `still conflicting after ${attempt} attempts; other writers keep changing the Secret`,
        );
      }
      await sleep(backoffMs(attempt));
    }
  }
}

/**
 * Creates the Secret only when no Secret of that name exists. The apiserver decides
 * atomically (409 AlreadyExists), which is what makes a Secret usable as a lock: of two
 * creators exactly one gets `created`.
 */
export async function createSecretIfAbsent(
  kube: Kube,
  namespace: string,
  name: string,
  change: SecretChange,
): Promise<{ created: true; resourceVersion: string } | { created: false }> {
  try {
    const created = await kube.core.createNamespacedSecret({
      namespace,
      body: toV1Secret(name, namespace, change),
    });
    return { created: true, resourceVersion: created.metadata?.resourceVersion ?? '' };
  } catch (err) {
    const e = toKubeError(err, ctx('create', namespace, name));
    if (e instanceof KubeConflictError) return { created: false };
    throw e;
  }
}

/**
 * Replaces the Secret only if it is still at `resourceVersion` (what the caller read and
 * decided on). False when someone changed or deleted it meanwhile: decide again.
 */
export async function replaceSecretIfUnchanged(
  kube: Kube,
  namespace: string,
  name: string,
  resourceVersion: string,
  change: SecretChange,
): Promise<boolean> {
  const body = toV1Secret(name, namespace, change);
  body.metadata!.resourceVersion = resourceVersion;
  try {
    await kube.core.replaceNamespacedSecret({ name, namespace, body });
    return true;
  } catch (err) {
    const e = toKubeError(err, ctx('update', namespace, name));
    if (e instanceof KubeConflictError || e instanceof KubeNotFoundError) return false;
    throw e;
  }
}

/** Idempotent: deleting a missing Secret succeeds. */
export async function deleteSecret(
  kube: Kube,
  namespace: string,
  name: string,
  opts: { resourceVersion?: string } = {},
): Promise<void> {
  try {
    // With a resourceVersion the apiserver deletes only that version (409 otherwise).
    await kube.core.deleteNamespacedSecret({
      name,
      namespace,
      ...(opts.resourceVersion ? { body: { preconditions: { resourceVersion: opts.resourceVersion } } } : {}),
    });
  } catch (err) {
    const e = toKubeError(err, ctx('delete', namespace, name));
    if (e instanceof KubeNotFoundError) return;
    throw e;
  }
}

export function toSecretData(secret: V1Secret): SecretData {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  return redacted({
    data,
    annotations: { ...(secret.metadata?.annotations ?? {}) },
    labels: { ...(secret.metadata?.labels ?? {}) },
    resourceVersion: secret.metadata?.resourceVersion ?? '',
  });
}

/**
 * Defence in depth: if a SecretData is ever logged, serialized as an activity result or
 * put in an error, only its keys show. Non-enumerable, so spreading and equality still work.
 */
function redacted(s: SecretData): SecretData {
  const view = () => ({
    data: Object.fromEntries(Object.keys(s.data).map((k) => [k, '<redacted>'])),
    annotations: s.annotations,
    labels: s.labels,
    resourceVersion: s.resourceVersion,
  });
  Object.defineProperty(s, 'toJSON', { value: view, enumerable: false });
  Object.defineProperty(s, inspect.custom, { value: () => view(), enumerable: false });
  return s;
}

function toV1Secret(name: string, namespace: string, change: SecretChange): V1Secret {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(change.data)) {
    if (v !== undefined) data[k] = Buffer.from(v, 'utf8').toString('base64');
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name, namespace, annotations: change.annotations ?? {}, labels: change.labels ?? {} },
    data,
  };
}

function sameContent(current: SecretData, change: SecretChange): boolean {
  return (
    sameRecord(current.data, change.data) &&
    isSubset(change.annotations ?? {}, current.annotations) &&
    isSubset(change.labels ?? {}, current.labels)
  );
}

function sameRecord(a: Record<string, string>, b: Record<string, string | undefined>): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

function isSubset(sub: Record<string, string>, sup: Record<string, string>): boolean {
  return Object.entries(sub).every(([k, v]) => sup[k] === v);
}

function backoffMs(attempt: number): number {
  const base = Math.min(50 * 2 ** (attempt - 1), 1000);
  return base / 2 + Math.random() * (base / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
