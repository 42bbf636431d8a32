// The worker's RBAC rendered from the inventory alone (`rotator rbac`), so it grants exactly
// what the inventory asks for: Secrets by name, `patch` on the named consumers and the store,
// pod deletion in the store's namespace; and the ValidatingAdmissionPolicies for what RBAC
// cannot express (which Secret names may be created, what a patch may change, which pods
// may be deleted).
import type {
  KubernetesObject,
  V1Namespace,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1ServiceAccount,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
  V1Validation,
} from '@kubernetes/client-node';
import { Document, isNode, isPair, isScalar, isSeq, visit } from 'yaml';
import { CONSUMER_KINDS, pendingSecretName, type ConsumerKind, type Inventory } from '../inventory';
import { DECISION_GROUP, DECISION_PLURAL } from '../approvals/decisions';
import { RESTARTED_AT_ANNOTATION } from '../kube/rollout';
import {
  ADMISSION_POLICY_NAMES,
  RBAC_FILES,
  serviceAccountUser,
  type RbacFileName,
  type ServiceAccountRef,
} from './names';

const PLURAL: Record<ConsumerKind, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
};
const WORKLOAD_RESOURCES = CONSUMER_KINDS.map((k) => PLURAL[k]);

/** What the worker may touch in one namespace, as the inventory decides it. */
export interface NamespaceGrants {
  namespace: string;
  /** Zone and root Secrets here and their `-pending` records: read, replaced, deleted, created. */
  secrets: string[];
  /** The workloads here a rollout restart may patch, by kind: named consumers and the store. */
  restart: Record<ConsumerKind, string[]>;
  /** Zones whose Secret is here with `consumers: auto`: any workload here may be restarted. */
  restartAnyFor: string[];
  /** In the store's namespace: the StatefulSet whose pods a forced rollback may delete. */
  storeStatefulSet?: string;
  /** In approvals.namespace (approvals.authority kubernetes): the RotationDecisions a run reads. */
  readDecisions?: boolean;
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** Per namespace the inventory makes the worker touch (sorted), what it may do there. */
export function rbacGrants(inventory: Inventory): NamespaceGrants[] {
  const byNs = new Map<string, NamespaceGrants>();
  const at = (namespace: string): NamespaceGrants => {
    let g = byNs.get(namespace);
    if (!g) {
      g = {
        namespace,
        secrets: [],
        restart: { Deployment: [], StatefulSet: [], DaemonSet: [] },
        restartAnyFor: [],
      };
      byNs.set(namespace, g);
    }
    return g;
  };
  const { rootSecret, workload } = inventory.store;
  at(rootSecret.namespace).secrets.push(rootSecret.name, pendingSecretName(rootSecret.name));
  at(workload.namespace).restart[workload.kind].push(workload.name);
  at(workload.namespace).storeStatefulSet = workload.name;
  if (inventory.approvals.authority === 'kubernetes') at(inventory.approvals.namespace).readDecisions = true;
  for (const zone of inventory.zones) {
    const g = at(zone.secret.namespace);
    g.secrets.push(zone.secret.name, pendingSecretName(zone.secret.name));
    if (zone.consumers === 'auto') g.restartAnyFor.push(zone.name);
    else for (const c of zone.consumers) at(c.namespace).restart[c.kind].push(c.name);
  }
  return [...byNs.values()]
    .map((g) => ({
      ...g,
      secrets: sorted(g.secrets),
      restart: {
        Deployment: sorted(g.restart.Deployment),
        StatefulSet: sorted(g.restart.StatefulSet),
        DaemonSet: sorted(g.restart.DaemonSet),
      },
      restartAnyFor: sorted(g.restartAnyFor),
    }))
    .sort((a, b) => a.namespace.localeCompare(b.namespace));
}

/** A rule with the reason it is there (rendered as a comment above it). */
export interface Commented<T> {
  value: T;
  comment: string;
}

function roleRules(g: NamespaceGrants): Array<Commented<V1PolicyRule>> {
  const rules: Array<Commented<V1PolicyRule>> = [];
  if (g.readDecisions)
    rules.push({
      comment:
        'The RotationDecisions people create (deploy/approvals/): read, never created. Each update a run\n' +
        'waits for takes effect only for a decision the admission policy admitted.',
      value: { apiGroups: [DECISION_GROUP], resources: [DECISION_PLURAL], verbs: ['get', 'list'] },
    });
  const touched =
    g.secrets.length ||
    g.restartAnyFor.length ||
    g.storeStatefulSet ||
    CONSUMER_KINDS.some((k) => g.restart[k].length);
  // The approvals namespace, when the inventory touches nothing else there: decisions only.
  if (!touched) return rules;
  const { secrets: secretPolicy, workloads: workloadPolicy, pods: podPolicy } = ADMISSION_POLICY_NAMES;
  if (g.secrets.length) {
    rules.push(
      {
        comment:
          'The zone / root Secrets here and their -pending records, by name: read, replace (optimistic\n' +
          'concurrency on resourceVersion), delete. No list/watch and no other name: no other Secret\n' +
          'of the namespace can be read, enumerated or overwritten.',
        value: {
          apiGroups: [''],
          resources: ['secrets'],
          resourceNames: g.secrets,
          verbs: ['get', 'update', 'delete'],
        },
      },
      {
        comment:
          `RBAC cannot limit create by name: the admission policy ${secretPolicy} lets the worker\n` +
          'create only the names above (and only Opaque Secrets, no ServiceAccount tokens).',
        value: { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      },
    );
  }
  rules.push({
    comment: 'Consumer discovery (list), the paused check (get), rollout status (get, watch).',
    value: { apiGroups: ['apps'], resources: WORKLOAD_RESOURCES, verbs: ['get', 'list', 'watch'] },
  });
  if (g.restartAnyFor.length) {
    rules.push({
      comment:
        `Rollout restart. Zone(s) ${g.restartAnyFor.join(', ')} say consumers: auto, so any workload here may\n` +
        `be restarted (list the consumers in the inventory to limit this by name); the admission\n` +
        `policy ${workloadPolicy} still lets a patch change only the restart annotation.`,
      value: { apiGroups: ['apps'], resources: WORKLOAD_RESOURCES, verbs: ['patch'] },
    });
  } else {
    for (const kind of CONSUMER_KINDS) {
      if (!g.restart[kind].length) continue;
      rules.push({
        comment:
          `Rollout restart of the ${PLURAL[kind]} the inventory names (consumers, the store), by name; the\n` +
          `admission policy ${workloadPolicy} lets the patch change only ${RESTARTED_AT_ANNOTATION}.`,
        value: {
          apiGroups: ['apps'],
          resources: [PLURAL[kind]],
          resourceNames: g.restart[kind],
          verbs: ['patch'],
        },
      });
    }
  }
  rules.push({
    comment: 'Which running pods may still hold the previous key.',
    value: { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
  });
  if (g.storeStatefulSet) {
    rules.push({
      comment:
        "RotateRoot's forced rollback deletes a store pod stuck in the broken revision. RBAC cannot\n" +
        `name the pods a StatefulSet creates: the admission policy ${podPolicy} allows only pods\n` +
        `StatefulSet ${g.storeStatefulSet} controls, and the worker checks the owner's UID before deleting.`,
      value: { apiGroups: [''], resources: ['pods'], verbs: ['delete'] },
    });
  }
  rules.push(
    {
      comment: 'Which Deployment owns those pods (pod -> ReplicaSet -> Deployment), for on-call.',
      value: { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['list'] },
    },
    {
      comment:
        'Events on the Secrets and workloads a run changed, so `kubectl describe` tells the story.\n' +
        'Create only: the worker never reads, updates or deletes Events.',
      value: { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    },
    {
      comment:
        "The store's NetworkPolicy (networkPolicies.apply: BootstrapCluster): read, create, replace\n" +
        'its own (optimistic concurrency). No list: it is addressed by name.',
      value: {
        apiGroups: ['networking.k8s.io'],
        resources: ['networkpolicies'],
        verbs: ['get', 'create', 'update'],
      },
    },
  );
  return rules;
}

/** A CEL string literal. */
const cel = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const celList = (items: string[]): string =>
  items.length ? `[\n${items.map((i) => `  ${cel(i)}`).join(',\n')}\n]` : '[]';

/**
 * `a` and `b` (maps: the apiserver hands admission policies unstructured objects) hold the
 * same keys with the same values, except `keys`.
 */
export function celSameExcept(a: string, b: string, keys: string[]): string {
  const skip = keys.length === 1 ? `k == ${cel(keys[0]!)}` : `k in [${keys.map(cel).join(', ')}]`;
  return `${a}.all(k, ${skip} || (k in ${b} && ${a}[k] == ${b}[k])) &&\n${b}.all(k, ${skip} || k in ${a})`;
}

const validation = (v: V1Validation): V1Validation => ({ ...v, reason: 'Forbidden' });

function admissionPolicy(
  name: string,
  worker: ServiceAccountRef,
  rules: NonNullable<NonNullable<V1ValidatingAdmissionPolicy['spec']>['matchConstraints']>['resourceRules'],
  validations: V1Validation[],
  variables?: Array<{ name: string; expression: string }>,
): V1ValidatingAdmissionPolicy {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: rules },
      // Everyone else is left alone: these policies only narrow what the worker's RBAC grants.
      matchConditions: [
        {
          name: 'rotator-worker',
          expression: `request.userInfo.username == ${cel(serviceAccountUser(worker))}`,
        },
      ],
      ...(variables ? { variables } : {}),
      validations: validations.map(validation),
    },
  };
}

const binding = (policyName: string): V1ValidatingAdmissionPolicyBinding => ({
  apiVersion: 'admissionregistration.k8s.io/v1',
  kind: 'ValidatingAdmissionPolicyBinding',
  metadata: { name: policyName },
  spec: { policyName, validationActions: ['Deny'] },
});

function admissionPolicies(
  grants: NamespaceGrants[],
  worker: ServiceAccountRef,
): Array<Commented<KubernetesObject>> {
  const secretNames = grants.flatMap((g) => g.secrets.map((s) => `${g.namespace}/${s}`));
  const workloads = grants.flatMap((g) =>
    CONSUMER_KINDS.flatMap((k) => g.restart[k].map((n) => `${PLURAL[k]}/${g.namespace}/${n}`)),
  );
  const anyWorkloadIn = grants.filter((g) => g.restartAnyFor.length).map((g) => g.namespace);
  const store = grants.find((g) => g.storeStatefulSet)!;
  const { secrets, workloads: restartOnly, pods } = ADMISSION_POLICY_NAMES;

  const target = `request.resource.resource + '/' + request.namespace + '/' + request.name`;
  const annotations = (o: string) =>
    `(has(${o}.spec.template.metadata.annotations) ? ${o}.spec.template.metadata.annotations : {})`;
  const podTemplateUnchanged = [
    celSameExcept('object.spec.template', 'oldObject.spec.template', ['metadata']),
    celSameExcept('object.spec.template.metadata', 'oldObject.spec.template.metadata', ['annotations']),
    celSameExcept('variables.annotations', 'variables.oldAnnotations', [RESTARTED_AT_ANNOTATION]),
  ].join(' &&\n');

  return [
    {
      comment:
        'The worker may create only the Secrets it manages: RBAC grants create without names (it\n' +
        'cannot limit create by name), so this policy holds it to the zone and root Secrets and their\n' +
        '-pending records, and to Opaque Secrets (no ServiceAccount-token Secrets).',
      value: admissionPolicy(
        secrets,
        worker,
        [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['secrets'] }],
        [
          {
            expression: `has(object.metadata.name) &&\n(request.namespace + '/' + object.metadata.name) in ${celList(secretNames)}`,
            message: 'the rotator creates only the Secrets the inventory names and their -pending records',
            messageExpression: `'the rotator creates only the Secrets the inventory names and their -pending records, not ' + request.namespace + '/' + object.metadata.name`,
          },
          {
            expression: `!has(object.type) || object.type == 'Opaque'`,
            message: 'the rotator creates only Opaque Secrets',
          },
        ],
      ),
    },
    { comment: '', value: binding(secrets) },
    {
      comment:
        'A rollout restart and nothing else: the worker may patch only the consumers the inventory\n' +
        `names and the store (also limited by name in the Roles), and the patch may change only the\n` +
        `pod template's ${RESTARTED_AT_ANNOTATION} annotation: not the pod spec, not the template's\n` +
        'labels or other annotations, not the rest of the spec (replicas, selector, strategy, …), not\n' +
        "the workload's own labels, annotations, owners or finalizers.",
      value: admissionPolicy(
        restartOnly,
        worker,
        [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['UPDATE'], resources: WORKLOAD_RESOURCES }],
        [
          {
            expression: [
              ...(anyWorkloadIn.length ? [`request.namespace in ${celList(anyWorkloadIn)} ||`] : []),
              `(${target}) in ${celList(workloads)}`,
            ].join('\n'),
            message: 'the rotator restarts only the workloads the inventory names and the store',
            messageExpression: `'the rotator restarts only the workloads the inventory names and the store, not ' + ${target}`,
          },
          {
            expression: podTemplateUnchanged,
            message: `the rotator may change only the ${RESTARTED_AT_ANNOTATION} annotation of the pod template`,
          },
          {
            expression: celSameExcept('object.spec', 'oldObject.spec', ['template']),
            message: "the rotator may not change a workload's spec outside its pod template",
          },
          {
            expression: celSameExcept('object.metadata', 'oldObject.metadata', [
              'managedFields',
              'resourceVersion',
              'generation',
            ]),
            message: "the rotator may not change a workload's labels, annotations, owners or finalizers",
          },
        ],
        [
          { name: 'annotations', expression: annotations('object') },
          { name: 'oldAnnotations', expression: annotations('oldObject') },
        ],
      ),
    },
    { comment: '', value: binding(restartOnly) },
    {
      comment:
        `The worker may delete only pods the store's StatefulSet (${store.namespace}/${store.storeStatefulSet}) controls:\n` +
        "RBAC cannot name a StatefulSet's pods. The worker also checks the owner's UID before deleting.",
      value: admissionPolicy(
        pods,
        worker,
        [{ apiGroups: [''], apiVersions: ['v1'], operations: ['DELETE'], resources: ['pods'] }],
        [
          {
            expression:
              `request.namespace == ${cel(store.namespace)} &&\n` +
              'has(oldObject.metadata.ownerReferences) &&\n' +
              'oldObject.metadata.ownerReferences.exists(o,\n' +
              `  o.apiVersion.startsWith('apps/') && o.kind == 'StatefulSet' && o.name == ${cel(store.storeStatefulSet!)} &&\n` +
              '  has(o.controller) && o.controller)',
            message: `the rotator deletes only pods of StatefulSet ${store.namespace}/${store.storeStatefulSet}`,
            messageExpression: `'the rotator deletes only pods of StatefulSet ${store.namespace}/${store.storeStatefulSet}, not ' + request.namespace + '/' + request.name`,
          },
        ],
      ),
    },
    { comment: '', value: binding(pods) },
  ];
}

export interface RenderedRbac {
  grants: NamespaceGrants[];
  files: Record<RbacFileName, KubernetesObject[]>;
  /** Grants wider than names: zones whose consumers are found at run time. */
  warnings: string[];
  /** Each file's text, headed by where it came from (`source`) and how to re-render it. */
  yaml: (source: string) => Record<RbacFileName, string>;
}

export interface RenderedFile {
  head: string[];
  objects: Array<Commented<KubernetesObject>>;
  /** Comments above each rule of a Role, in order. */
  ruleComments?: Map<KubernetesObject, string[]>;
}

function renderFiles(inventory: Inventory, worker: ServiceAccountRef) {
  const grants = rbacGrants(inventory);
  const ruleComments = new Map<KubernetesObject, string[]>();
  const roles = grants.map((g) => {
    const rules = roleRules(g);
    const role: V1Role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: worker.name, namespace: g.namespace },
      rules: rules.map((r) => r.value),
    };
    ruleComments.set(
      role,
      rules.map((r) => r.comment),
    );
    return { comment: '', value: role };
  });
  const bindings = grants.map((g): Commented<KubernetesObject> => ({
    comment: '',
    value: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: worker.name, namespace: g.namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: worker.name },
      subjects: [{ kind: 'ServiceAccount', name: worker.name, namespace: worker.namespace }],
    } as V1RoleBinding,
  }));
  const namespaces = grants.map((g) => g.namespace).join(', ');
  const files: Record<RbacFileName, RenderedFile> = {
    'serviceaccount.yaml': {
      head: ["The worker's identity. Nothing is bound to it except the Roles in role.yaml."],
      objects: [
        {
          comment: '',
          value: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: worker.namespace } } as V1Namespace,
        },
        {
          comment: '',
          value: {
            apiVersion: 'v1',
            kind: 'ServiceAccount',
            metadata: { name: worker.name, namespace: worker.namespace },
            automountServiceAccountToken: true,
          } as V1ServiceAccount,
        },
      ],
    },
    'role.yaml': {
      head: [
        `One Role per namespace the inventory names (${namespaces}); nothing cluster-wide.`,
        'Secrets and workloads are granted by name where RBAC can name them; admission-policies.yaml',
        'narrows what it cannot (Secret creation, what a patch changes, which pods are deleted).',
      ],
      objects: roles,
      ruleComments,
    },
    'rolebinding.yaml': {
      head: [`Binds each Role to ServiceAccount ${worker.namespace}/${worker.name}.`],
      objects: bindings,
    },
    'admission-policies.yaml': {
      head: [
        'ValidatingAdmissionPolicies (admissionregistration.k8s.io/v1, Kubernetes >= 1.30) for what RBAC',
        `cannot express. Each applies only to ${serviceAccountUser(worker)}`,
        'and fails closed (failurePolicy: Fail).',
      ],
      objects: admissionPolicies(grants, worker),
    },
  };
  return { grants, files };
}

export function renderRbac(inventory: Inventory, worker: ServiceAccountRef): RenderedRbac {
  const { grants, files } = renderFiles(inventory, worker);
  const warnings = grants
    .filter((g) => g.restartAnyFor.length)
    .map(
      (g) =>
        `zone(s) ${g.restartAnyFor.join(', ')} say consumers: auto: the worker may patch any Deployment, StatefulSet or DaemonSet in ${g.namespace} (only the restart annotation); list the consumers to limit it by name`,
    );
  const objects = Object.fromEntries(
    RBAC_FILES.map((f) => [f, files[f].objects.map((o) => o.value)]),
  ) as Record<RbacFileName, KubernetesObject[]>;
  return {
    grants,
    files: objects,
    warnings,
    yaml: (source) =>
      Object.fromEntries(RBAC_FILES.map((f) => [f, fileYaml(files[f], source)])) as Record<
        RbacFileName,
        string
      >,
  };
}

/** YAML comment text (the emitter adds the `#`). */
const yamlComment = (text: string) =>
  text
    .split('\n')
    .map((l) => ` ${l}`)
    .join('\n');

export function fileYaml(file: RenderedFile, source: string, command = 'rotator rbac'): string {
  const head = [
    `# Rendered by \`${command}\` from ${source}; do not edit: change the inventory and re-render.`,
    ...file.head.map((l) => `# ${l}`),
  ].join('\n');
  const docs = file.objects.map(({ value, comment }) => {
    const doc = new Document(value);
    // Short lists of scalars on one line, as a person writes RBAC (`verbs: [get, list]`); names one a line.
    visit(doc, {
      Seq(_, node, path) {
        const parent = path[path.length - 1];
        const names = isPair(parent) && isScalar(parent.key) && parent.key.value === 'resourceNames';
        if (!names && node.items.every(isScalar)) node.flow = true;
      },
    });
    if (comment && doc.contents) doc.contents.commentBefore = yamlComment(comment);
    const ruleComments = file.ruleComments?.get(value);
    const rules = doc.get('rules', true);
    if (ruleComments && isSeq(rules))
      rules.items.forEach((item, i) => {
        const c = ruleComments[i];
        if (c && isNode(item)) item.commentBefore = yamlComment(c);
      });
    return `---\n${doc.toString({ lineWidth: 0, singleQuote: true, flowCollectionPadding: false })}`;
  });
  return `${head}\n${docs.join('')}`;
}
