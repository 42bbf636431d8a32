// What makes a RotationDecision an authorization (docs/design.md "Who may decide"), rendered from
// the inventory by `rotator approvals` into deploy/approvals/: the CustomResourceDefinition, the
// ValidatingAdmissionPolicy that admits a decision only for the identity the apiserver
// authenticated and only when RBAC grants that identity the action's verb on `rotations`, and
// ClusterRoles to bind (RoleBinding in the approvals namespace) to the people who decide.
import type {
  KubernetesObject,
  V1ClusterRole,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
} from '@kubernetes/client-node';
import type { V1Namespace } from '@kubernetes/client-node';
import type { Inventory } from '../inventory';
import { fileYaml, type RenderedFile } from '../rbac/render';
import {
  ACTION_VERBS,
  AUTHORITY_RESOURCE,
  DECISION_ACTIONS,
  DECISION_GROUP,
  DECISION_KIND,
  DECISION_PLURAL,
  DECISION_VERSION,
  ROOT_TARGET,
  zoneTarget,
} from './decisions';

/** The cluster-scoped names, one place (the tests and the docs name them too). */
export const APPROVAL_OBJECT_NAMES = {
  crd: `${DECISION_PLURAL}.${DECISION_GROUP}`,
  policy: 'rustfs-rotator-decisions',
  requester: 'rustfs-rotator-root-requester',
  approver: 'rustfs-rotator-root-approver',
  revoker: 'rustfs-rotator-zone-revoker',
} as const;

export const APPROVALS_FILE = 'approvals.yaml';

const str = (maxLength: number, description: string) => ({
  type: 'string',
  minLength: 1,
  maxLength,
  description,
});

/** Typed loosely: the client's V1JSONSchemaProps spells `enum` as `_enum`, the apiserver does not. */
function crd(): KubernetesObject & { spec: object } {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: APPROVAL_OBJECT_NAMES.crd },
    spec: {
      group: DECISION_GROUP,
      scope: 'Namespaced',
      names: {
        kind: DECISION_KIND,
        listKind: `${DECISION_KIND}List`,
        plural: DECISION_PLURAL,
        singular: DECISION_KIND.toLowerCase(),
      },
      versions: [
        {
          name: DECISION_VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              required: ['spec'],
              properties: {
                spec: {
                  type: 'object',
                  required: ['workflowId', 'runId', 'action', 'target', 'user'],
                  properties: {
                    workflowId: str(1000, 'the Temporal workflow ID of the run'),
                    runId: str(64, "the run's first run ID (the same across continue-as-new)"),
                    action: {
                      type: 'string',
                      enum: [...DECISION_ACTIONS],
                      description: 'what is decided; each needs its verb on rotations.rotator.dev',
                    },
                    target: str(63, `the rotations name: ${ROOT_TARGET}, or zone-<zone>`),
                    user: str(512, 'the creator: must be the identity the apiserver authenticates'),
                    reason: { type: 'string', maxLength: 1024, description: 'why (a change ticket)' },
                  },
                },
              },
            },
          },
          additionalPrinterColumns: [
            { name: 'Action', type: 'string', jsonPath: '.spec.action' },
            { name: 'Target', type: 'string', jsonPath: '.spec.target' },
            { name: 'User', type: 'string', jsonPath: '.spec.user' },
            { name: 'Workflow', type: 'string', jsonPath: '.spec.workflowId' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
        },
      ],
    },
  };
}

const celString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function policy(): V1ValidatingAdmissionPolicy {
  const verbs = DECISION_ACTIONS.map((a) => `${celString(a)}: ${celString(ACTION_VERBS[a])}`).join(', ');
  const create = "request.operation != 'CREATE'";
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: APPROVAL_OBJECT_NAMES.policy },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: [DECISION_GROUP],
            apiVersions: ['*'],
            operations: ['CREATE', 'UPDATE'],
            resources: [DECISION_PLURAL],
          },
        ],
      },
      variables: [{ name: 'verb', expression: `{${verbs}}[object.spec.action]` }],
      validations: [
        {
          expression: `${create} || object.spec.user == request.userInfo.username`,
          messageExpression:
            "'spec.user must be the identity the apiserver authenticated for this request (' + request.userInfo.username + '), not ' + object.spec.user",
          reason: 'Forbidden',
        },
        {
          expression:
            `${create} || authorizer.group(${celString(DECISION_GROUP)}).resource(${celString(AUTHORITY_RESOURCE)})` +
            '.namespace(request.namespace).name(object.spec.target).check(variables.verb).allowed()',
          messageExpression: `request.userInfo.username + ' may not ' + object.spec.action + ' ' + object.spec.target + ': RBAC does not grant the verb ' + variables.verb + ' on ${AUTHORITY_RESOURCE}.${DECISION_GROUP} ' + object.spec.target + ' in namespace ' + request.namespace`,
          reason: 'Forbidden',
        },
        {
          expression: "request.operation != 'UPDATE' || object.spec == oldObject.spec",
          message: 'a RotationDecision is immutable: create a new one',
          reason: 'Forbidden',
        },
      ],
    },
  };
}

const binding = (): V1ValidatingAdmissionPolicyBinding => ({
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: APPROVAL_OBJECT_NAMES.policy },
  spec: { policyName: APPROVAL_OBJECT_NAMES.policy, validationActions: ['Deny'] },
});

/** A ClusterRole to bind in the approvals namespace: create decisions, and these verbs on these rotations. */
const deciderRole = (name: string, verbs: string[], targets: string[]): V1ClusterRole => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRole',
  metadata: { name },
  rules: [
    { apiGroups: [DECISION_GROUP], resources: [DECISION_PLURAL], verbs: ['create', 'get', 'list'] },
    { apiGroups: [DECISION_GROUP], resources: [AUTHORITY_RESOURCE], resourceNames: targets, verbs },
  ],
});

/** The file's objects and its text, headed by where it came from (`source`). */
export function renderApprovals(inventory: Inventory): {
  objects: KubernetesObject[];
  yaml: (source: string) => string;
} {
  const ns = inventory.approvals.namespace;
  const file: RenderedFile = {
    head: [
      `RotationDecisions: approvals authorized by Kubernetes (approvals.authority: ${inventory.approvals.authority}).`,
      'Cluster-scoped: the CRD, its admission policy (admissionregistration.k8s.io/v1, Kubernetes >= 1.30;',
      'the CEL authorizer it uses is in every such release) and ClusterRoles for the people who decide.',
    ],
    objects: [
      {
        comment: `Where decisions are created (approvals.namespace); the worker's Role there is in deploy/rbac/role.yaml.`,
        value: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as V1Namespace,
      },
      {
        comment:
          `A ${DECISION_KIND} is one person's decision about one run (request, approve, resume, rollback,\n` +
          `revoke-now). People create them in namespace ${ns} (approvals.namespace) with their own\n` +
          'credentials; the worker only reads them (get, list: deploy/rbac/role.yaml).',
        value: crd(),
      },
      {
        comment:
          'Admits a decision only when spec.user is the identity the apiserver authenticated for the\n' +
          `request and RBAC grants that identity the action's verb on ${AUTHORITY_RESOURCE}.${DECISION_GROUP}/<target>\n` +
          `(${DECISION_ACTIONS.map((a) => `${a}: ${ACTION_VERBS[a]}`).join(', ')}), as cert-manager's\n` +
          'approval checks the approve verb on signers; and refuses any change of spec. Applies to everyone.',
        value: policy(),
      },
      { comment: '', value: binding() },
      {
        comment:
          `Bind with a RoleBinding in ${ns} to whoever starts root rotations from the CLI (rotator\n` +
          'start-workflow RotateRoot records them as the requester, who may then not approve).',
        value: deciderRole(APPROVAL_OBJECT_NAMES.requester, [ACTION_VERBS.request], [ROOT_TARGET]),
      },
      {
        comment: `Bind with a RoleBinding in ${ns} to whoever approves, resumes or rolls back root rotations.`,
        value: deciderRole(
          APPROVAL_OBJECT_NAMES.approver,
          [ACTION_VERBS.approve, ACTION_VERBS.resume, ACTION_VERBS.rollback],
          [ROOT_TARGET],
        ),
      },
      {
        comment: `Bind with a RoleBinding in ${ns} to whoever may revoke a zone's previous key before its grace ends.`,
        value: deciderRole(
          APPROVAL_OBJECT_NAMES.revoker,
          [ACTION_VERBS['revoke-now']],
          inventory.zones.map((z) => zoneTarget(z.name)),
        ),
      },
    ],
  };
  return {
    objects: file.objects.map((o) => o.value),
    yaml: (source) => fileYaml(file, source, 'rotator approvals'),
  };
}
