// RotationDecision objects (src/approvals/decisions.ts): the worker lists them (get/list is all
// its RBAC grants), a person creates one with their own credentials (the CLI's approve, resume,
// rollback, revoke-now and start-workflow RotateRoot).
import { AuthenticationV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import {
  DECISION_ACTIONS,
  DECISION_GROUP,
  DECISION_KIND,
  DECISION_PLURAL,
  DECISION_VERSION,
  type Decision,
} from '../approvals/decisions';
import { type Kube } from './client';
import { toKubeError } from './errors';

const RESOURCE = `${DECISION_PLURAL}.${DECISION_GROUP}`;

interface DecisionObject {
  metadata?: { name?: string; creationTimestamp?: string | Date };
  spec?: Partial<Record<'workflowId' | 'runId' | 'action' | 'target' | 'user' | 'reason', unknown>>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** An object read back, or undefined when it lacks a field (the CRD's schema requires them all). */
function toDecision(o: DecisionObject): Decision | undefined {
  const s = o.spec ?? {};
  const [name, workflowId, runId, target, user] = [
    o.metadata?.name,
    str(s.workflowId),
    str(s.runId),
    str(s.target),
    str(s.user),
  ];
  const action = DECISION_ACTIONS.find((a) => a === s.action);
  if (!name || !workflowId || !runId || !target || !user || !action) return undefined;
  const created = o.metadata?.creationTimestamp;
  return {
    name,
    workflowId,
    runId,
    action,
    target,
    user,
    ...(str(s.reason) ? { reason: str(s.reason) } : {}),
    createdAt: created instanceof Date ? created.toISOString() : (created ?? ''),
  };
}

/** The decisions in `namespace` that name this workflow ID (any run; the caller judges). */
export async function listDecisions(kube: Kube, namespace: string, workflowId: string): Promise<Decision[]> {
  const api = kube.kc.makeApiClient(CustomObjectsApi);
  let list: { items?: DecisionObject[] };
  try {
    list = (await api.listNamespacedCustomObject({
      group: DECISION_GROUP,
      version: DECISION_VERSION,
      namespace,
      plural: DECISION_PLURAL,
    })) as { items?: DecisionObject[] };
  } catch (err) {
    throw toKubeError(err, { verb: 'list', resource: RESOURCE, namespace });
  }
  return (list.items ?? [])
    .map(toDecision)
    .filter((d): d is Decision => d !== undefined && d.workflowId === workflowId);
}

/**
 * A decision to create: what the worker reads, less what the apiserver assigns. Its `user` is
 * who the caller says it is; the admission policy refuses anything but its authenticated name.
 */
export type NewDecision = Omit<Decision, 'name' | 'createdAt'>;

/** Creates a decision (generated name); returns the object's name. */
export async function createDecision(kube: Kube, namespace: string, d: NewDecision): Promise<string> {
  const api = kube.kc.makeApiClient(CustomObjectsApi);
  try {
    const created = (await api.createNamespacedCustomObject({
      group: DECISION_GROUP,
      version: DECISION_VERSION,
      namespace,
      plural: DECISION_PLURAL,
      body: {
        apiVersion: `${DECISION_GROUP}/${DECISION_VERSION}`,
        kind: DECISION_KIND,
        metadata: { generateName: `${d.action}-` },
        spec: {
          workflowId: d.workflowId,
          runId: d.runId,
          action: d.action,
          target: d.target,
          user: d.user,
          ...(d.reason ? { reason: d.reason } : {}),
        },
      },
    })) as DecisionObject;
    return created.metadata?.name ?? '';
  } catch (err) {
    throw toKubeError(err, { verb: 'create', resource: RESOURCE, namespace });
  }
}

/**
 * The username the apiserver authenticates these credentials as (SelfSubjectReview, GA since
 * Kubernetes 1.28): what a decision's spec.user must say.
 */
export async function whoAmI(kube: Kube): Promise<string> {
  const api = kube.kc.makeApiClient(AuthenticationV1Api);
  try {
    const review = await api.createSelfSubjectReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    const user = review.status?.userInfo?.username;
    if (!user) throw new Error('the apiserver returned no username');
    return user;
  } catch (err) {
    throw toKubeError(err, { verb: 'create', resource: 'selfsubjectreviews.authentication.k8s.io' });
  }
}
