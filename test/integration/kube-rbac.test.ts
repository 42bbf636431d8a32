import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
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
import { createKube, loadKubeConfig, type Kube } from '../../src/kube/client';
import { findConsumers, podsReferencingSecret } from '../../src/kube/consumers';
import { KubeForbiddenError } from '../../src/kube/errors';
import { recordEvent, type EventSpec } from '../../src/kube/events';
import { applyNetworkPolicy, ForeignNetworkPolicyError } from '../../src/kube/network-policies';
import { MANAGED_BY } from '../../src/netpol/names';
import { rolloutRestart, waitForRollout, type WorkloadRef } from '../../src/kube/rollout';
import { createOrReplaceSecret, deleteSecret, readSecret, updateSecret } from '../../src/kube/secrets';
import {
  NEVER_READY_ANNOTATION,
  createNamespace,
  daemonSetManifest,
  deleteNamespace,
  deploymentManifest,
  envConsumer,
  randomSuffix,
  statefulSetManifest,
} from '../../src/kube/testing';

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
const SECRET = 'rustfs-serving-reader';

const RBAC_DIR = path.join(__dirname, '..', '..', 'deploy', 'rbac');
const MANIFEST_ORDER = ['serviceaccount.yaml', 'role.yaml', 'rolebinding.yaml'];

/** The committed manifests with namespaces rewritten; fails on a namespace the test does not know. */
function loadManifests(): KubernetesObject[] {
  const files = fs.readdirSync(RBAC_DIR).filter((f) => f.endsWith('.yaml'));
  assert.deepEqual(
    files.sort(),
    [...MANIFEST_ORDER].sort(),
    'the test applies every manifest in deploy/rbac',
  );
  const ns = (n: string) => {
    const mapped = NS[n];
    assert.ok(mapped, `deploy/rbac names namespace "${n}" the test does not map`);
    return mapped;
  };
  return MANIFEST_ORDER.flatMap((f) =>
    parseAllDocuments(fs.readFileSync(path.join(RBAC_DIR, f), 'utf8')).map((d) => {
      const obj = d.toJS() as KubernetesObject & { subjects?: Array<{ namespace?: string }> };
      if (obj.kind === 'Namespace') obj.metadata!.name = ns(obj.metadata!.name!);
      if (obj.metadata?.namespace) obj.metadata.namespace = ns(obj.metadata.namespace);
      for (const s of obj.subjects ?? []) if (s.namespace) s.namespace = ns(s.namespace);
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
  await admin.apps.createNamespacedStatefulSet({
    namespace: platform,
    body: statefulSetManifest(statefulSet.name, { replicas: 1 }),
  });
  await admin.apps.createNamespacedDaemonSet({ namespace: data, body: daemonSetManifest(daemonSet.name) });
});

after(async () => {
  for (const n of [...Object.values(NS), outside]) await deleteNamespace(admin, n);
});

describe('the deploy/rbac ServiceAccount can do every operation', () => {
  test('Secrets: create, read, update (optimistic), replace, delete', async () => {
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
    for (const ns of [data, platform]) {
      await createOrReplaceSecret(sa, ns, `${SECRET}-pending`, { k: 'v' });
      await deleteSecret(sa, ns, `${SECRET}-pending`);
    }
    await deleteSecret(sa, serving, 'never-existed');
  });

  test('discovery, restart and status of each workload kind, pods holding the Secret', async () => {
    await createOrReplaceSecret(sa, serving, SECRET, { 'secret-key': 'x' });
    assert.deepEqual(
      (await findConsumers(sa, serving, SECRET)).map((c) => c.name),
      ['titiler'],
    );
    for (const ref of [deployment, statefulSet, daemonSet]) {
      await waitForRollout(sa, ref, { timeoutMs: 120_000 });
      await new Promise((r) => setTimeout(r, 1100));
      assert.deepEqual(await rolloutRestart(sa, ref, new Date()), { changed: true });
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

  async function until(group: string, resource: string, verb: string, allowed: boolean) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await authz().createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace: serving, group, resource, verb } } },
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
    run: () => Promise<unknown>;
    expect: RegExp;
  }> = [
    {
      group: '',
      resource: 'secrets',
      verb: 'get',
      run: () => readSecret(sa, serving, SECRET),
      expect: /cannot get secrets/,
    },
    {
      group: '',
      resource: 'secrets',
      verb: 'create',
      run: () => createOrReplaceSecret(sa, serving, 'brand-new', { k: 'v' }),
      expect: /cannot create secrets "brand-new"/,
    },
    {
      group: '',
      resource: 'secrets',
      verb: 'update',
      run: () => createOrReplaceSecret(sa, serving, SECRET, { k: String(Math.random()) }),
      expect: /cannot update secrets/,
    },
    {
      group: '',
      resource: 'secrets',
      verb: 'delete',
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
      const without = original.map((rule) =>
        (rule.apiGroups ?? []).includes(c.group) && (rule.resources ?? []).includes(c.resource)
          ? { ...rule, resources: (rule.resources ?? []).filter((r) => r !== c.resource) }
          : rule,
      );
      // The resource keeps every other verb through its own rule.
      const rest = original.find(
        (rule) => (rule.apiGroups ?? []).includes(c.group) && (rule.resources ?? []).includes(c.resource),
      )!;
      without.push({
        apiGroups: [c.group],
        resources: [c.resource],
        verbs: rest.verbs.filter((v) => v !== c.verb),
      });
      await setRules(without.filter((r) => (r.resources ?? []).length && r.verbs.length));
      try {
        await until(c.group, c.resource, c.verb, false);
        await assert.rejects(c.run(), (err: unknown) => {
          assert.ok(err instanceof KubeForbiddenError, String(err));
          assert.match(err.message, c.expect);
          return true;
        });
      } finally {
        await setRules(original);
        await until(c.group, c.resource, c.verb, true);
      }
    });
  }
});
