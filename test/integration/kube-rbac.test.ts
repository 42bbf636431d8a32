import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  AdmissionregistrationV1Api,
  AuthorizationV1Api,
  PatchStrategy,
  setHeaderOptions,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
  type KubernetesObject,
  type V1PolicyRule,
  type V1NetworkPolicy,
  type V1Role,
} from '@kubernetes/client-node';
import { getStack } from '../support/stack';
import { parseInventory } from '../../src/inventory';
import { createKube, loadKubeConfig, type Kube } from '../../src/kube/client';
import { findConsumers, podsReferencingSecret } from '../../src/kube/consumers';
import {
  KubeAdmissionDeniedError,
  KubeForbiddenError,
  toKubeError,
  type KubeRequestContext,
} from '../../src/kube/errors';
import { recordEvent, type EventSpec } from '../../src/kube/events';
import { applyNetworkPolicy, ForeignNetworkPolicyError } from '../../src/kube/network-policies';
import { MANAGED_BY } from '../../src/netpol/names';
import { ADMISSION_POLICY_NAMES, RBAC_FILES } from '../../src/rbac/names';
import {
  forceStatefulSetRollback,
  readWorkload,
  restartPatch,
  rolloutRestart,
  waitForRollout,
  type WorkloadRef,
} from '../../src/kube/rollout';
import {
  createOrReplaceSecret,
  createSecretIfAbsent,
  deleteSecret,
  readSecret,
  replaceSecretIfUnchanged,
  updateSecret,
} from '../../src/kube/secrets';
import {
  NEVER_READY_ANNOTATION,
  createNamespace,
  daemonSetManifest,
  deleteNamespace,
  deploymentManifest,
  envConsumer,
  randomSuffix,
  statefulSetManifest,
} from '../support/kube-fixtures';

const stack = getStack();
const admin = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
const p = `kube-rbac-${randomSuffix()}`;
// Every namespace the committed manifests name, mapped to this test's own.
const NS: Record<string, string> = {
  'rustfs-rotator': `${p}-rotator`,
  'dashi-data': `${p}-data`,
  'dashi-serving': `${p}-serving`,
  'dashi-platform': `${p}-platform`,
};
const outside = `${p}-outside`;
const data = NS['dashi-data']!;
const serving = NS['dashi-serving']!;
const platform = NS['dashi-platform']!;
const ROOT = path.join(__dirname, '..', '..');
// The names the committed manifests grant come from the inventory they were rendered from.
const inventory = parseInventory(
  fs.readFileSync(path.join(ROOT, 'config', 'dashi.yaml'), 'utf8'),
  'config/dashi.yaml',
);
const zoneSecret = (zone: string) => inventory.zones.find((z) => z.name === zone)!.secret.name;
/** The serving zone's Secret (dashi-serving), read by its consumer titiler. */
const SECRET = zoneSecret('serving');
/** A Secret the inventory names in each of the three namespaces the Roles name. */
const NAMED = [
  { namespace: data, name: zoneSecret('ingest') },
  { namespace: serving, name: SECRET },
  { namespace: platform, name: inventory.store.rootSecret.name },
];
/** Someone else's Secret next to the zone's. */
const FOREIGN_SECRET = 'someone-elses';

const RBAC_DIR = path.join(ROOT, 'deploy', 'rbac');
/** Cluster-scoped objects (the admission policies and their bindings) get this test's prefix. */
const clusterName = (name: string) => `${p}-${name}`;

/** Every string of `obj`, rewritten by `fn` (the policies name namespaces inside CEL). */
function mapStrings<T>(obj: T, fn: (s: string) => string): T {
  if (typeof obj === 'string') return fn(obj) as T;
  if (Array.isArray(obj)) return obj.map((x: unknown) => mapStrings(x, fn)) as T;
  if (obj && typeof obj === 'object')
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, mapStrings(v, fn)])) as T;
  return obj;
}
const INVENTORY_NS = /(?<![a-z0-9-])(dashi-data|dashi-serving|dashi-platform)(?![a-z0-9-])/g;

/**
 * The committed manifests with namespaces rewritten (also inside the policies' CEL and the
 * ServiceAccount's username) and the cluster-scoped objects renamed; fails on a namespace the
 * test does not know.
 */
function loadManifests(): KubernetesObject[] {
  const files = fs.readdirSync(RBAC_DIR).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(files.sort(), [...RBAC_FILES].sort(), 'the test applies every manifest in deploy/rbac');
  const ns = (n: string) => {
    const mapped = NS[n] ?? (Object.values(NS).includes(n) ? n : undefined);
    assert.ok(mapped, `deploy/rbac names namespace "${n}" the test does not map`);
    return mapped;
  };
  const worker = 'system:serviceaccount:rustfs-rotator:';
  return RBAC_FILES.flatMap((f) =>
    parseAllDocuments(fs.readFileSync(path.join(RBAC_DIR, f), 'utf8')).map((d) => {
      const obj = mapStrings(d.toJS() as KubernetesObject, (s) =>
        s
          .replace(INVENTORY_NS, (n) => ns(n))
          .replaceAll(worker, `system:serviceaccount:${ns('rustfs-rotator')}:`),
      ) as KubernetesObject & { subjects?: Array<{ namespace?: string }>; spec?: { policyName?: string } };
      if (obj.kind === 'Namespace') obj.metadata!.name = ns(obj.metadata!.name!);
      if (obj.metadata?.namespace) obj.metadata.namespace = ns(obj.metadata.namespace);
      for (const s of obj.subjects ?? []) if (s.namespace) s.namespace = ns(s.namespace);
      if (obj.kind?.startsWith('ValidatingAdmissionPolicy')) {
        obj.metadata!.name = clusterName(obj.metadata!.name!);
        if (obj.spec?.policyName) obj.spec.policyName = clusterName(obj.spec.policyName);
      }
      const text = JSON.stringify(obj);
      assert.doesNotMatch(text, INVENTORY_NS, `${f}: a namespace left unmapped`);
      assert.ok(!text.includes(worker), `${f}: the worker's username left unmapped`);
      return obj;
    }),
  );
}

const saUser = () => `system:serviceaccount:${NS['rustfs-rotator']}:rustfs-rotator`;
let sa: Kube;
let nobody: Kube;

async function eventually<T>(fn: () => Promise<T>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > until || !(err instanceof KubeForbiddenError)) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** A store-ingress policy like the rendered one, on `port`. */
const storePolicy = (namespace: string, name: string, port: number): V1NetworkPolicy => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace, labels: { ...MANAGED_BY } },
  spec: {
    podSelector: { matchLabels: { app: 'rustfs' } },
    policyTypes: ['Ingress'],
    ingress: [{ ports: [{ protocol: 'TCP', port }] }],
  },
});

const deployment: WorkloadRef = { kind: 'Deployment', namespace: serving, name: 'titiler' };
const statefulSet: WorkloadRef = { kind: 'StatefulSet', namespace: platform, name: 'rustfs' };
const daemonSet: WorkloadRef = { kind: 'DaemonSet', namespace: data, name: 'flow-agent' };
/** In the consumers' namespace, but not a consumer the inventory names. */
const otherDeployment: WorkloadRef = { kind: 'Deployment', namespace: serving, name: 'someone-elses' };
/** Labelled like the store's pods, in the store's namespace, but not the StatefulSet's. */
const STRAY_POD = 'rustfs-lookalike';
const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `attempt` as the worker until an admission policy refuses it (policies and bindings
 * reach the apiserver's admission plugin a moment after they are created; RBAC too), undoing
 * what a premature success did. Returns the refusal.
 */
async function untilAdmissionDenies(
  attempt: () => Promise<unknown>,
  undo: () => Promise<unknown>,
): Promise<KubeAdmissionDeniedError> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await attempt();
      await undo();
    } catch (err) {
      if (err instanceof KubeAdmissionDeniedError) return err;
      if (!(err instanceof KubeForbiddenError)) throw err;
    }
    assert.ok(Date.now() < deadline, 'the admission policies did not take effect within 30 s');
    await sleep(250);
  }
}

/** A pod in the store's namespace with the store's labels, never Ready, that no StatefulSet controls. */
const lookalikePod = (name: string) =>
  admin.core.createNamespacedPod({
    namespace: platform,
    body: {
      metadata: {
        name,
        labels: { app: 'rustfs', 'controller-revision-hash': 'lookalike' },
        annotations: { [NEVER_READY_ANNOTATION]: 'true' },
      },
      spec: {
        containers: [{ name: 'app', image: 'registry.invalid/app:1' }],
        terminationGracePeriodSeconds: 0,
      },
    },
  });

/** The raw client call as the worker makes it, its failure typed as the worker would see it. */
async function asWorker<T>(ctx: KubeRequestContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toKubeError(err, ctx);
  }
}
const deletePod = (kube: Kube, namespace: string, name: string) =>
  asWorker({ verb: 'delete', resource: 'pods', namespace, name }, () =>
    kube.core.deleteNamespacedPod({ name, namespace }),
  );

before(async () => {
  for (const n of [data, serving, platform, outside]) await createNamespace(admin, n);
  const manifests = loadManifests();
  assert.ok(
    manifests.every((m) => !m.kind?.startsWith('Cluster')),
    'no cluster-wide grant in deploy/rbac',
  );
  const objects = KubernetesObjectApi.makeApiClient(admin.kc);
  for (const m of manifests) await objects.create(m);

  const tr = await admin.core.createNamespacedServiceAccountToken({
    name: 'rustfs-rotator',
    namespace: NS['rustfs-rotator']!,
    body: {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { audiences: [], expirationSeconds: 3600 },
    },
  });
  sa = createKube(
    loadKubeConfig({ server: stack.kube.server, caFile: stack.kube.caFile, token: tr.status!.token }),
  );
  nobody = createKube(
    loadKubeConfig({
      server: stack.kube.server,
      caFile: stack.kube.caFile,
      token: stack.kube.noPermissionToken,
    }),
  );

  await admin.apps.createNamespacedDeployment({
    namespace: serving,
    body: deploymentManifest(deployment.name, { replicas: 2, containers: [envConsumer(SECRET)] }),
  });
  await admin.apps.createNamespacedDeployment({
    namespace: serving,
    body: deploymentManifest(otherDeployment.name, { replicas: 1 }),
  });
  // OrderedReady, like the store's: a pod stuck in a broken revision then stays until deleted.
  const store = statefulSetManifest(statefulSet.name, { replicas: 1 });
  await admin.apps.createNamespacedStatefulSet({
    namespace: platform,
    body: { ...store, spec: { ...store.spec!, podManagementPolicy: 'OrderedReady' } },
  });
  await admin.apps.createNamespacedDaemonSet({ namespace: data, body: daemonSetManifest(daemonSet.name) });
  await admin.core.createNamespacedSecret({
    namespace: serving,
    body: { metadata: { name: FOREIGN_SECRET }, stringData: { k: 'v' } },
  });
  // Not "rustfs-<ordinal>": the StatefulSet controller adopts only pods named as its own.
  await lookalikePod(STRAY_POD);

  // The policies are in force once the last one created (pods) refuses, and the first (secrets).
  let probe = 0;
  await untilAdmissionDenies(
    async () => {
      const name = `probe-${probe++}`;
      await lookalikePod(name);
      return deletePod(sa, platform, name);
    },
    async () => undefined,
  );
  await untilAdmissionDenies(
    () => createSecretIfAbsent(sa, serving, 'not-the-rotators', { data: { k: 'v' } }),
    () => deleteSecret(admin, serving, 'not-the-rotators'),
  );
});

after(async () => {
  for (const n of [...Object.values(NS), outside]) await deleteNamespace(admin, n);
  const vap = admin.kc.makeApiClient(AdmissionregistrationV1Api);
  for (const name of Object.values(ADMISSION_POLICY_NAMES)) {
    await vap.deleteValidatingAdmissionPolicyBinding({ name: clusterName(name) }).catch(() => undefined);
    await vap.deleteValidatingAdmissionPolicy({ name: clusterName(name) }).catch(() => undefined);
  }
});

describe('the deploy/rbac ServiceAccount can do every operation', () => {
  test('Secrets the inventory names: create, read, update (optimistic), replace, delete; their -pending records too', async () => {
    const created = await eventually(() =>
      createOrReplaceSecret(sa, serving, SECRET, {
        'access-key': 'dashi-serving-reader',
        'secret-key': 'one',
      }),
    );
    assert.equal(created.outcome, 'created');
    assert.equal((await readSecret(sa, serving, SECRET))?.data['secret-key'], 'one');
    await updateSecret(sa, serving, SECRET, (cur) => ({ data: { ...cur!.data, 'secret-key': 'two' } }));
    assert.equal(
      (await createOrReplaceSecret(sa, serving, SECRET, { 'secret-key': 'three' })).outcome,
      'updated',
    );
    for (const { namespace, name } of NAMED) {
      // The lock: created only when absent, replaced only when unchanged, deleted by version.
      const lock = await createSecretIfAbsent(sa, namespace, `${name}-pending`, { data: { k: 'v' } });
      assert.ok(lock.created, `${namespace}/${name}-pending`);
      assert.equal(
        await replaceSecretIfUnchanged(sa, namespace, `${name}-pending`, lock.resourceVersion, {
          data: { k: 'w' },
        }),
        true,
      );
      await deleteSecret(sa, namespace, `${name}-pending`);
      assert.equal(await readSecret(sa, namespace, `${name}-pending`), null);
      // BootstrapCluster's hold: a keyless record naming its run, deleted by version.
      const hold = await createSecretIfAbsent(sa, namespace, `${name}-pending`, {
        data: {},
        annotations: { 'rotator.rustfs.dev/owner-temporal-namespace': 'default' },
      });
      assert.ok(hold.created, `hold ${namespace}/${name}-pending`);
      await deleteSecret(sa, namespace, `${name}-pending`, { resourceVersion: hold.resourceVersion });
      assert.equal(await readSecret(sa, namespace, `${name}-pending`), null);
    }
    // Deleting a named Secret that is not there is no error (a retried clean-up).
    await deleteSecret(sa, data, `${NAMED[0]!.name}-pending`);
    await createOrReplaceSecret(sa, platform, NAMED[2]!.name, { 'secret-key': 'root' });
  });

  test('discovery, restart of the named consumer and the store, status of each workload kind, pods holding the Secret', async () => {
    await createOrReplaceSecret(sa, serving, SECRET, { 'secret-key': 'x' });
    assert.deepEqual(
      (await findConsumers(sa, serving, SECRET)).map((c) => c.name),
      ['titiler'],
    );
    for (const ref of [deployment, statefulSet, daemonSet]) {
      await waitForRollout(sa, ref, { timeoutMs: 120_000 });
      await sleep(1100);
      // The DaemonSet is no consumer of dashi's: the worker cannot patch it, an admin restarts it.
      if (ref === daemonSet)
        await admin.apps.patchNamespacedDaemonSet({ ...ref, body: restartPatch(new Date()) }, smp);
      else assert.deepEqual(await rolloutRestart(sa, ref, new Date()), { changed: true });
      const done = await waitForRollout(sa, ref, { timeoutMs: 120_000 });
      assert.equal(done.done, true);
    }
    const pods = await podsReferencingSecret(sa, serving, SECRET, {
      startedBefore: new Date(Date.now() + 1000),
      runningOnly: true,
    });
    assert.ok(pods.length >= 2);
    assert.ok(
      pods.every((pod) => pod.owner === 'Deployment/titiler'),
      JSON.stringify(pods),
    );
  });

  test('forced rollback of the store: the stuck pod the StatefulSet controls is deleted, a look-alike is not', async () => {
    const original = (await admin.apps.readNamespacedStatefulSet(statefulSet)).status!.updateRevision!;
    // A template whose pod never becomes Ready: the rollout replaces rustfs-0 and stalls.
    await admin.apps.patchNamespacedStatefulSet(
      {
        ...statefulSet,
        body: { spec: { template: { metadata: { annotations: { [NEVER_READY_ANNOTATION]: 'true' } } } } },
      },
      smp,
    );
    const stuckRevision = async () => {
      const pod = await admin.core
        .readNamespacedPod({ name: 'rustfs-0', namespace: platform })
        .catch(() => undefined);
      const rev = pod?.metadata?.labels?.['controller-revision-hash'];
      return rev && rev !== original && !pod?.metadata?.deletionTimestamp ? rev : undefined;
    };
    for (let i = 0; !(await stuckRevision()); i++) {
      assert.ok(i < 240, 'rustfs-0 was not replaced by the broken revision');
      await sleep(250);
    }
    // Reverted: the controller would wait for the broken pod forever.
    await admin.apps.patchNamespacedStatefulSet(
      {
        ...statefulSet,
        body: [
          {
            op: 'remove',
            path: `/spec/template/metadata/annotations/${NEVER_READY_ANNOTATION.replace('/', '~1')}`,
          },
        ],
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    const deleted = await forceStatefulSetRollback(sa, statefulSet);
    assert.deepEqual(deleted, ['rustfs-0']);
    const stray = await admin.core.readNamespacedPod({ name: STRAY_POD, namespace: platform });
    assert.ok(!stray.metadata?.deletionTimestamp, 'the look-alike pod is left alone');
    const done = await waitForRollout(sa, statefulSet, { timeoutMs: 120_000 });
    assert.equal(done.done, true);
    assert.equal((await admin.apps.readNamespacedStatefulSet(statefulSet)).status!.updateRevision, original);
  });

  test('Events: created on a Secret and on each workload kind, selected by their uid; a retry finds its own', async () => {
    await createOrReplaceSecret(sa, serving, SECRET, { 'secret-key': 'x' });
    const secret = { kind: 'Secret' as const, namespace: serving, name: SECRET };
    for (const regarding of [secret, deployment, statefulSet, daemonSet]) {
      const spec: EventSpec = { regarding, type: 'Normal', reason: 'Rotated', message: 'rbac test' };
      const key = `rbac-${regarding.kind}-${randomSuffix()}`;
      assert.equal(await eventually(() => recordEvent(sa, spec, { key, instance: 'rbac-test' })), 'created');
      assert.equal(await recordEvent(sa, spec, { key, instance: 'rbac-test' }), 'exists');
      const uid =
        regarding.kind === 'Secret'
          ? (await admin.core.readNamespacedSecret({ namespace: serving, name: SECRET })).metadata!.uid
          : undefined;
      const events = await admin.core.listNamespacedEvent({
        namespace: regarding.namespace,
        fieldSelector: `involvedObject.kind=${regarding.kind},involvedObject.name=${regarding.name}${uid ? `,involvedObject.uid=${uid}` : ''}`,
      });
      assert.equal(events.items.filter((e) => e.message === 'rbac test').length, 1, regarding.kind);
    }
  });
  test('Events: create only, and only in the inventory namespaces', async () => {
    for (const verb of ['get', 'list', 'watch', 'update', 'patch', 'delete', 'create']) {
      const r = await sa.kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace: serving, group: '', resource: 'events', verb } } },
      });
      assert.equal(Boolean(r.status?.allowed), verb === 'create', `${verb} events`);
    }
    const r = await sa.kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
      body: {
        spec: { resourceAttributes: { namespace: outside, group: '', resource: 'events', verb: 'create' } },
      },
    });
    assert.equal(Boolean(r.status?.allowed), false, 'create events outside the inventory namespaces');
  });

  test('NetworkPolicies: created, replaced, left alone when equal; one the rotator did not create is refused', async () => {
    const policy = storePolicy(platform, 'rotator-store-access', 9000);
    assert.equal(await eventually(() => applyNetworkPolicy(sa, policy, MANAGED_BY)), 'created');
    assert.equal(
      await applyNetworkPolicy(sa, storePolicy(platform, 'rotator-store-access', 9100), MANAGED_BY),
      'updated',
    );
    assert.equal(
      await applyNetworkPolicy(sa, storePolicy(platform, 'rotator-store-access', 9100), MANAGED_BY),
      'unchanged',
      'the same policy again is not a write',
    );
    const live = await admin.networking.readNamespacedNetworkPolicy({
      name: 'rotator-store-access',
      namespace: platform,
    });
    assert.equal(live.spec!.ingress![0]!.ports![0]!.port, 9100);
    const foreign = storePolicy(platform, 'someone-elses', 9000);
    await admin.networking.createNamespacedNetworkPolicy({
      namespace: platform,
      body: { ...foreign, metadata: { ...foreign.metadata, labels: {} } },
    });
    await assert.rejects(applyNetworkPolicy(sa, foreign, MANAGED_BY), (err: unknown) => {
      assert.ok(err instanceof ForeignNetworkPolicyError);
      assert.match(err.message, /was not created by the rotator/);
      return true;
    });
  });

  test('Secrets outside the inventory namespaces are out of reach', async () => {
    await admin.core.createNamespacedSecret({
      namespace: outside,
      body: { metadata: { name: SECRET }, stringData: { k: 'v' } },
    });
    await assert.rejects(readSecret(sa, outside, SECRET), (err: unknown) => {
      assert.ok(err instanceof KubeForbiddenError);
      assert.equal(
        err.message,
        `RBAC denied: cannot get secrets "${SECRET}" in namespace "${outside}" (user "${saUser()}")`,
      );
      return true;
    });
  });
});

describe('each widened operation is refused: by RBAC where it names, by the admission policies where it cannot', () => {
  const rbacDenied = (re: RegExp) => (err: unknown) => {
    assert.ok(err instanceof KubeForbiddenError && !(err instanceof KubeAdmissionDeniedError), String(err));
    assert.match(err.message, re);
    assert.match(err.message, /^RBAC denied: /);
    return true;
  };
  const policyDenied = (policy: string, re: RegExp) => (err: unknown) => {
    assert.ok(err instanceof KubeAdmissionDeniedError, String(err));
    assert.equal(err.policy, clusterName(policy));
    assert.match(err.message, re);
    return true;
  };
  const rbac = () => admin.kc.makeApiClient(RbacAuthorizationV1Api);

  test('another Secret in the same namespace: get, update and delete by RBAC, create by the admission policy', async () => {
    await assert.rejects(
      readSecret(sa, serving, FOREIGN_SECRET),
      rbacDenied(new RegExp(`cannot get secrets "${FOREIGN_SECRET}" in namespace "${serving}"`)),
    );
    const rv = (await admin.core.readNamespacedSecret({ name: FOREIGN_SECRET, namespace: serving })).metadata!
      .resourceVersion!;
    await assert.rejects(
      replaceSecretIfUnchanged(sa, serving, FOREIGN_SECRET, rv, { data: { k: 'overwritten' } }),
      rbacDenied(new RegExp(`cannot update secrets "${FOREIGN_SECRET}"`)),
    );
    await assert.rejects(
      deleteSecret(sa, serving, FOREIGN_SECRET),
      rbacDenied(new RegExp(`cannot delete secrets "${FOREIGN_SECRET}"`)),
    );
    // RBAC grants create without names: the policy refuses any name the inventory does not give.
    for (const name of ['brand-new', `${FOREIGN_SECRET}-pending`, `${SECRET}-other`])
      await assert.rejects(
        createSecretIfAbsent(sa, serving, name, { data: { k: 'v' } }),
        policyDenied(
          ADMISSION_POLICY_NAMES.secrets,
          new RegExp(
            `^Admission policy ${clusterName(ADMISSION_POLICY_NAMES.secrets)} denied: cannot create secrets "${name}" in namespace "${serving}"$`,
          ),
        ),
      );
    // A zone Secret's name in another inventory namespace is not a name the inventory gives there.
    await assert.rejects(
      createSecretIfAbsent(sa, data, SECRET, { data: { k: 'v' } }),
      policyDenied(ADMISSION_POLICY_NAMES.secrets, /cannot create secrets/),
    );
    // A named Secret, but a ServiceAccount token: not Opaque.
    await deleteSecret(admin, serving, `${SECRET}-pending`);
    await assert.rejects(
      asWorker({ verb: 'create', resource: 'secrets', namespace: serving, name: `${SECRET}-pending` }, () =>
        sa.core.createNamespacedSecret({
          namespace: serving,
          body: {
            metadata: {
              name: `${SECRET}-pending`,
              annotations: { 'kubernetes.io/service-account.name': 'default' },
            },
            type: 'kubernetes.io/service-account-token',
          },
        }),
      ),
      policyDenied(ADMISSION_POLICY_NAMES.secrets, /cannot create secrets/),
    );
    const after = await admin.core.readNamespacedSecret({ name: FOREIGN_SECRET, namespace: serving });
    assert.equal(after.metadata!.resourceVersion, rv, 'the other Secret is unchanged');
  });

  test('another Deployment: its restart refused by RBAC, and by the admission policy when RBAC is widened', async () => {
    const before = (await readWorkload(admin, otherDeployment)).metadata!.resourceVersion;
    await assert.rejects(
      rolloutRestart(sa, otherDeployment, new Date()),
      rbacDenied(
        new RegExp(`cannot patch deployments\\.apps "${otherDeployment.name}" in namespace "${serving}"`),
      ),
    );
    // Someone widens the Role (patch on every Deployment): the policy still holds the worker to the inventory's.
    const role = await rbac().readNamespacedRole({ name: 'rustfs-rotator', namespace: serving });
    const original = role.rules ?? [];
    role.rules = [...original, { apiGroups: ['apps'], resources: ['deployments'], verbs: ['patch'] }];
    await rbac().replaceNamespacedRole({ name: 'rustfs-rotator', namespace: serving, body: role });
    try {
      const denied = await untilAdmissionDenies(
        () => rolloutRestart(sa, otherDeployment, new Date()),
        async () =>
          assert.fail('the admission policy let the worker restart a Deployment the inventory does not name'),
      );
      assert.equal(denied.policy, clusterName(ADMISSION_POLICY_NAMES.workloads));
      assert.match(
        denied.message,
        new RegExp(
          `cannot patch deployments\\.apps "${otherDeployment.name}" in namespace "${serving}": the rotator restarts only the workloads the inventory names and the store, not deployments/${serving}/${otherDeployment.name}$`,
        ),
      );
    } finally {
      const current = await rbac().readNamespacedRole({ name: 'rustfs-rotator', namespace: serving });
      current.rules = original;
      await rbac().replaceNamespacedRole({ name: 'rustfs-rotator', namespace: serving, body: current });
    }
    assert.equal(
      (await readWorkload(admin, otherDeployment)).metadata!.resourceVersion,
      before,
      'left untouched',
    );
  });

  test('a named consumer: anything beyond the restart annotation is denied by the admission policy', async () => {
    const patch = (body: object) =>
      asWorker(
        { verb: 'patch', resource: 'deployments.apps', namespace: serving, name: deployment.name },
        () => sa.apps.patchNamespacedDeployment({ name: deployment.name, namespace: serving, body }, smp),
      );
    const before = await readWorkload(admin, deployment);
    const template = (t: object) => ({ spec: { template: t } });
    const cases: Array<[string, object, RegExp]> = [
      [
        'the image',
        template({ spec: { containers: [{ name: 'app', image: 'registry.invalid/evil:1' }] } }),
        /may change only the kubectl\.kubernetes\.io\/restartedAt annotation of the pod template/,
      ],
      [
        'the pod spec (a ServiceAccount)',
        template({ spec: { serviceAccountName: 'default' } }),
        /may change only the kubectl\.kubernetes\.io\/restartedAt annotation/,
      ],
      [
        'another template annotation',
        template({ metadata: { annotations: { 'example.com/extra': 'x' } } }),
        /may change only the kubectl\.kubernetes\.io\/restartedAt annotation/,
      ],
      [
        'a template label',
        template({ metadata: { labels: { extra: 'x' } } }),
        /may change only the kubectl\.kubernetes\.io\/restartedAt annotation/,
      ],
      [
        'the restart annotation together with an env variable',
        {
          spec: {
            template: {
              metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } },
              spec: { containers: [{ name: 'app', env: [{ name: 'EXTRA', value: 'x' }] }] },
            },
          },
        },
        /may change only the kubectl\.kubernetes\.io\/restartedAt annotation/,
      ],
      [
        'the replicas',
        { spec: { replicas: 0 } },
        /may not change a workload's spec outside its pod template/,
      ],
      ['paused', { spec: { paused: true } }, /may not change a workload's spec outside its pod template/],
      [
        "the Deployment's own labels",
        { metadata: { labels: { extra: 'x' } } },
        /may not change a workload's labels, annotations, owners or finalizers/,
      ],
    ];
    for (const [what, body, expect] of cases)
      await assert.rejects(patch(body), (err: unknown) => {
        assert.ok(err instanceof KubeAdmissionDeniedError, `${what}: ${String(err)}`);
        assert.equal(err.policy, clusterName(ADMISSION_POLICY_NAMES.workloads), what);
        assert.match(err.message, expect, what);
        return true;
      });
    const after = await readWorkload(admin, deployment);
    assert.equal(after.metadata!.resourceVersion, before.metadata!.resourceVersion, 'nothing was changed');
    // The store's StatefulSet likewise: its replicas stay.
    await assert.rejects(
      asWorker(
        { verb: 'patch', resource: 'statefulsets.apps', namespace: platform, name: statefulSet.name },
        () => sa.apps.patchNamespacedStatefulSet({ ...statefulSet, body: { spec: { replicas: 0 } } }, smp),
      ),
      policyDenied(ADMISSION_POLICY_NAMES.workloads, /spec outside its pod template/),
    );
    // The restart itself is allowed (the test above), and the DaemonSet no zone names is refused by RBAC.
    await assert.rejects(
      rolloutRestart(sa, daemonSet, new Date()),
      rbacDenied(new RegExp(`cannot patch daemonsets\\.apps "${daemonSet.name}"`)),
    );
  });

  test("an unrelated pod: denied by the admission policy in the store's namespace, by RBAC elsewhere", async () => {
    await assert.rejects(
      deletePod(sa, platform, STRAY_POD),
      policyDenied(
        ADMISSION_POLICY_NAMES.pods,
        new RegExp(
          `cannot delete pods "${STRAY_POD}" in namespace "${platform}": the rotator deletes only pods of StatefulSet ${platform}/rustfs, not ${platform}/${STRAY_POD}$`,
        ),
      ),
    );
    const [consumerPod] = (
      await admin.core.listNamespacedPod({ namespace: serving, labelSelector: 'app=titiler' })
    ).items;
    assert.ok(consumerPod);
    await assert.rejects(
      deletePod(sa, serving, consumerPod.metadata!.name!),
      rbacDenied(new RegExp(`cannot delete pods "${consumerPod.metadata!.name!}" in namespace "${serving}"`)),
    );
    assert.ok(
      !(await admin.core.readNamespacedPod({ name: STRAY_POD, namespace: platform })).metadata
        ?.deletionTimestamp,
    );
  });

  test('workloads outside the inventory namespaces are out of reach', async () => {
    await admin.apps.createNamespacedDeployment({
      namespace: outside,
      body: deploymentManifest('titiler', { replicas: 0 }),
    });
    await assert.rejects(
      rolloutRestart(sa, { kind: 'Deployment', namespace: outside, name: 'titiler' }, new Date()),
      rbacDenied(new RegExp(`cannot get deployments\\.apps "titiler" in namespace "${outside}"`)),
    );
  });
});

describe('a token without bindings fails each operation with a typed 403 naming what is missing', () => {
  const denied = (re: RegExp) => (err: unknown) => {
    assert.ok(err instanceof KubeForbiddenError, String(err));
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, re);
    assert.match(err.message, /\(user "[^"]+"\)$/);
    return true;
  };
  const inNs = (ns: string) => `in namespace "${ns}"`;

  test('each operation', async () => {
    await assert.rejects(
      readSecret(nobody, serving, SECRET),
      denied(new RegExp(`^RBAC denied: cannot get secrets "${SECRET}" ${inNs(serving)}`)),
    );
    await assert.rejects(
      createOrReplaceSecret(nobody, serving, SECRET, { k: 'v' }),
      denied(new RegExp(`^RBAC denied: cannot get secrets "${SECRET}" ${inNs(serving)}`)),
    );
    await assert.rejects(
      updateSecret(nobody, serving, SECRET, () => ({ data: {} })),
      denied(/^RBAC denied: cannot get secrets/),
    );
    await assert.rejects(
      deleteSecret(nobody, serving, SECRET),
      denied(new RegExp(`^RBAC denied: cannot delete secrets "${SECRET}" ${inNs(serving)}`)),
    );
    await assert.rejects(
      findConsumers(nobody, serving, SECRET),
      denied(
        new RegExp(`^RBAC denied: cannot list (deployments|statefulsets|daemonsets)\\.apps ${inNs(serving)}`),
      ),
    );
    for (const ref of [deployment, statefulSet, daemonSet]) {
      const res = `${ref.kind.toLowerCase()}s\\.apps "${ref.name}" ${inNs(ref.namespace)}`;
      await assert.rejects(
        rolloutRestart(nobody, ref, new Date()),
        denied(new RegExp(`^RBAC denied: cannot get ${res}`)),
      );
      await assert.rejects(
        waitForRollout(nobody, ref, { timeoutMs: 5000 }),
        denied(new RegExp(`^RBAC denied: cannot get ${res}`)),
      );
    }
    await assert.rejects(
      podsReferencingSecret(nobody, serving, SECRET),
      denied(new RegExp(`^RBAC denied: cannot list pods ${inNs(serving)}`)),
    );
  });
});

describe('every rule in deploy/rbac is needed', () => {
  // Remove one verb at a time from the serving Role and show the operation that needs it
  // fails, naming that verb: the manifests are the minimum, not just sufficient.
  const authz = () => sa.kc.makeApiClient(AuthorizationV1Api);
  const rbac = () => admin.kc.makeApiClient(RbacAuthorizationV1Api);
  let original: V1PolicyRule[];

  before(async () => {
    original = (await rbac().readNamespacedRole({ name: 'rustfs-rotator', namespace: serving })).rules ?? [];
  });
  after(async () => setRules(original));

  async function setRules(rules: V1PolicyRule[]) {
    const role: V1Role = await rbac().readNamespacedRole({ name: 'rustfs-rotator', namespace: serving });
    role.rules = rules;
    await rbac().replaceNamespacedRole({ name: 'rustfs-rotator', namespace: serving, body: role });
  }

  async function until(group: string, resource: string, verb: string, allowed: boolean, name?: string) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await authz().createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace: serving, group, resource, verb, name } } },
      });
      if (Boolean(r.status?.allowed) === allowed) return;
      assert.ok(Date.now() < deadline, `RBAC did not converge for ${verb} ${resource}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  const cases: Array<{
    group: string;
    resource: string;
    verb: string;
    /** For a verb granted by name only: the name the operation uses. */
    name?: string;
    run: () => Promise<unknown>;
    expect: RegExp;
  }> = [
    {
      group: '',
      resource: 'secrets',
      verb: 'get',
      name: SECRET,
      run: () => readSecret(sa, serving, SECRET),
      expect: /cannot get secrets/,
    },
    {
      group: '',
      resource: 'secrets',
      verb: 'create',
      run: async () => {
        await deleteSecret(admin, serving, `${SECRET}-pending`);
        return createOrReplaceSecret(sa, serving, `${SECRET}-pending`, { k: 'v' });
      },
      expect: new RegExp(`cannot create secrets "${SECRET}-pending"`),
    },
    {
      group: '',
      resource: 'secrets',
      verb: 'update',
      name: SECRET,
      run: () => createOrReplaceSecret(sa, serving, SECRET, { k: String(Math.random()) }),
      expect: /cannot update secrets/,
    },
    {
      group: '',
      resource: 'secrets',
      verb: 'delete',
      name: SECRET,
      run: () => deleteSecret(sa, serving, SECRET),
      expect: /cannot delete secrets/,
    },
    {
      group: 'apps',
      resource: 'deployments',
      verb: 'list',
      run: () => findConsumers(sa, serving, SECRET),
      expect: /cannot list deployments\.apps/,
    },
    {
      group: 'apps',
      resource: 'deployments',
      verb: 'get',
      run: () => rolloutRestart(sa, deployment, new Date()),
      expect: /cannot get deployments\.apps/,
    },
    {
      group: 'apps',
      resource: 'deployments',
      verb: 'patch',
      name: deployment.name,
      run: () => rolloutRestart(sa, deployment, new Date(Date.now() + 3_600_000)),
      expect: /cannot patch deployments\.apps "titiler"/,
    },
    {
      group: 'apps',
      resource: 'deployments',
      verb: 'watch',
      run: async () => {
        // A rollout that cannot finish (new pods never become ready), so the wait has to watch.
        await admin.apps.patchNamespacedDeployment(
          {
            name: deployment.name,
            namespace: serving,
            body: { spec: { template: { metadata: { annotations: { [NEVER_READY_ANNOTATION]: 'true' } } } } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        );
        return waitForRollout(sa, deployment, { timeoutMs: 30_000 });
      },
      expect: /cannot watch deployments\.apps "titiler"/,
    },
    {
      group: '',
      resource: 'pods',
      verb: 'list',
      run: () => podsReferencingSecret(sa, serving, SECRET),
      expect: /cannot list pods/,
    },
    {
      group: '',
      resource: 'events',
      verb: 'create',
      run: () =>
        recordEvent(
          sa,
          {
            regarding: { kind: 'Secret', namespace: serving, name: SECRET },
            type: 'Normal',
            reason: 'Rotated',
            message: 'rbac test',
          },
          { key: `without-${randomSuffix()}`, instance: 'rbac-test' },
        ),
      expect: /cannot create events/,
    },
    {
      group: 'networking.k8s.io',
      resource: 'networkpolicies',
      verb: 'get',
      run: () => applyNetworkPolicy(sa, storePolicy(serving, 'rbac-np', 9000), MANAGED_BY),
      expect: /cannot get networkpolicies\.networking\.k8s\.io "rbac-np"/,
    },
    {
      group: 'networking.k8s.io',
      resource: 'networkpolicies',
      verb: 'create',
      run: () => applyNetworkPolicy(sa, storePolicy(serving, `rbac-np-${randomSuffix()}`, 9000), MANAGED_BY),
      expect: /cannot create networkpolicies\.networking\.k8s\.io "rbac-np-/,
    },
    {
      group: 'networking.k8s.io',
      resource: 'networkpolicies',
      verb: 'update',
      run: async () => {
        const name = `rbac-np-${randomSuffix()}`;
        await admin.networking.createNamespacedNetworkPolicy({
          namespace: serving,
          body: storePolicy(serving, name, 9000),
        });
        return applyNetworkPolicy(sa, storePolicy(serving, name, 9100), MANAGED_BY);
      },
      expect: /cannot update networkpolicies\.networking\.k8s\.io "rbac-np-/,
    },
    {
      group: 'apps',
      resource: 'replicasets',
      verb: 'list',
      run: () => podsReferencingSecret(sa, serving, SECRET),
      expect: /cannot list replicasets\.apps/,
    },
  ];

  for (const c of cases) {
    test(`without ${c.verb} on ${c.resource}`, async () => {
      await createOrReplaceSecret(admin, serving, SECRET, { 'secret-key': 'x' });
      // The verb goes from each rule granting it on this resource; the rule keeps the rest
      // (its other resources, other verbs and its resourceNames).
      const without = original
        .flatMap((rule): V1PolicyRule[] => {
          const grants =
            (rule.apiGroups ?? []).includes(c.group) &&
            (rule.resources ?? []).includes(c.resource) &&
            rule.verbs.includes(c.verb);
          if (!grants) return [rule];
          return [
            { ...rule, resources: (rule.resources ?? []).filter((r) => r !== c.resource) },
            { ...rule, resources: [c.resource], verbs: rule.verbs.filter((v) => v !== c.verb) },
          ];
        })
        .filter((r) => (r.resources ?? []).length && r.verbs.length);
      assert.notDeepEqual(without, original, `the serving Role grants ${c.verb} ${c.resource}`);
      await setRules(without);
      try {
        await until(c.group, c.resource, c.verb, false, c.name);
        await assert.rejects(c.run(), (err: unknown) => {
          assert.ok(err instanceof KubeForbiddenError, String(err));
          assert.match(err.message, c.expect);
          return true;
        });
      } finally {
        await setRules(original);
        await until(c.group, c.resource, c.verb, true, c.name);
      }
    });
  }
});
