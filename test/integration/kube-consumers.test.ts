import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getStack } from '../support/stack';
import { createKube, loadKubeConfig } from '../../src/kube/client';
import {
  findConsumers,
  podsReferencingSecret,
  type PodsReferencingSecretOptions,
  type PodUsingSecret,
} from '../../src/kube/consumers';
import { rolloutRestart, waitForRollout, type WorkloadRef } from '../../src/kube/rollout';
import {
  createNamespace,
  daemonSetManifest,
  deleteNamespace,
  deploymentManifest,
  envConsumer,
  randomSuffix,
  statefulSetManifest,
} from '../support/kube-fixtures';

const stack = getStack();
const kube = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
const suffix = randomSuffix();
const ns = `kube-consumers-${suffix}`;
const otherNs = `kube-consumers-other-${suffix}`;
const SECRET = 'rustfs-serving-reader';

/**
 * The pods the query finds once the titiler Deployment's replaced pods are gone: they may
 * take a moment to disappear after the rollout is done (up to 10 s, then the last answer).
 */
async function afterTitilerRollout(
  opts: PodsReferencingSecretOptions,
  settled: (titilerPods: number) => boolean,
): Promise<PodUsingSecret[]> {
  for (let i = 0; ; i++) {
    const pods = await podsReferencingSecret(kube, ns, SECRET, opts);
    if (settled(pods.filter((p) => p.owner === 'Deployment/titiler').length) || i >= 20) return pods;
    await new Promise((r) => setTimeout(r, 500));
  }
}

before(async () => {
  await createNamespace(kube, ns);
  await createNamespace(kube, otherNs);
  await kube.core.createNamespacedSecret({
    namespace: ns,
    body: { metadata: { name: SECRET }, stringData: { 'secret-key': 'x' } },
  });
  await kube.core.createNamespacedConfigMap({
    namespace: ns,
    body: { metadata: { name: SECRET }, data: { 'secret-key': 'x' } },
  });

  const apps = kube.apps;
  const img = 'registry.invalid/app:1';
  // Consumers, one per way of referencing the Secret.
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: deploymentManifest('titiler', { replicas: 2, containers: [envConsumer(SECRET)] }),
  });
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: deploymentManifest('duckdb-endpoint', {
      replicas: 1,
      initContainers: [envConsumer(SECRET, 'fetch-catalog')],
      containers: [{ name: 'app', image: img }],
    }),
  });
  await apps.createNamespacedStatefulSet({
    namespace: ns,
    body: statefulSetManifest('cache', {
      replicas: 1,
      containers: [{ name: 'app', image: img, envFrom: [{ secretRef: { name: SECRET } }] }],
    }),
  });
  await apps.createNamespacedDaemonSet({
    namespace: ns,
    body: daemonSetManifest('log-shipper', { volumes: [{ name: 'creds', secret: { secretName: SECRET } }] }),
  });
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: deploymentManifest('projected', {
      replicas: 1,
      volumes: [
        {
          name: 'bundle',
          projected: { sources: [{ configMap: { name: 'x' } }, { secret: { name: SECRET } }] },
        },
      ],
    }),
  });
  // Decoys.
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: deploymentManifest('other-secret', { replicas: 1, containers: [envConsumer('rustfs-ingest')] }),
  });
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: deploymentManifest('same-name-configmap', {
      replicas: 1,
      containers: [
        {
          name: 'app',
          image: img,
          envFrom: [{ configMapRef: { name: SECRET } }],
          env: [{ name: 'K', valueFrom: { configMapKeyRef: { name: SECRET, key: 'secret-key' } } }],
        },
      ],
      volumes: [{ name: 'cm', configMap: { name: SECRET } }],
    }),
  });
  await apps.createNamespacedStatefulSet({
    namespace: ns,
    body: statefulSetManifest('plain', { replicas: 1 }),
  });
  await apps.createNamespacedDeployment({
    namespace: otherNs,
    body: deploymentManifest('titiler', { replicas: 1, containers: [envConsumer(SECRET)] }),
  });
});

after(async () => {
  await deleteNamespace(kube, ns);
  await deleteNamespace(kube, otherNs);
});

describe('consumer discovery', () => {
  test('finds exactly the workloads whose pod template reads the Secret', async () => {
    const found = await findConsumers(kube, ns, SECRET);
    assert.deepEqual(found, [
      { kind: 'DaemonSet', namespace: ns, name: 'log-shipper', via: ['volume:creds'] },
      {
        kind: 'Deployment',
        namespace: ns,
        name: 'duckdb-endpoint',
        via: ['env:fetch-catalog/S3_SECRET_KEY'],
      },
      { kind: 'Deployment', namespace: ns, name: 'projected', via: ['projected:bundle'] },
      { kind: 'Deployment', namespace: ns, name: 'titiler', via: ['env:app/S3_SECRET_KEY'] },
      { kind: 'StatefulSet', namespace: ns, name: 'cache', via: ['envFrom:app'] },
    ]);
    assert.deepEqual(
      (await findConsumers(kube, otherNs, SECRET)).map((c) => c.name),
      ['titiler'],
    );
    assert.deepEqual(await findConsumers(kube, ns, 'no-such-secret'), []);
  });

  test('pods started before a time, with their owning workload', async () => {
    const refs: WorkloadRef[] = [
      { kind: 'Deployment', namespace: ns, name: 'titiler' },
      { kind: 'Deployment', namespace: ns, name: 'duckdb-endpoint' },
      { kind: 'StatefulSet', namespace: ns, name: 'cache' },
      { kind: 'DaemonSet', namespace: ns, name: 'log-shipper' },
      { kind: 'Deployment', namespace: ns, name: 'other-secret' },
    ];
    for (const r of refs) await waitForRollout(kube, r, { timeoutMs: 120_000 });
    // Pod start times have second precision.
    await new Promise((r) => setTimeout(r, 1100));
    const promotedAt = new Date();

    const all = await podsReferencingSecret(kube, ns, SECRET, {
      startedBefore: promotedAt,
      runningOnly: true,
    });
    const owners = all.map((p) => p.owner).sort();
    assert.deepEqual(owners, [
      'DaemonSet/log-shipper',
      'Deployment/duckdb-endpoint',
      'Deployment/projected',
      'Deployment/titiler',
      'Deployment/titiler',
      'StatefulSet/cache',
    ]);
    for (const p of all) {
      assert.ok(p.startedAt && new Date(p.startedAt) < promotedAt);
      assert.equal(p.phase, 'Running');
    }
    assert.deepEqual(
      await podsReferencingSecret(kube, ns, SECRET, { startedBefore: new Date(Date.now() - 3_600_000) }),
      [],
    );

    // After a restart the titiler pods are new: they no longer count as holding the old value.
    await new Promise((r) => setTimeout(r, 1100));
    await rolloutRestart(kube, refs[0]!, new Date());
    await waitForRollout(kube, refs[0]!, { timeoutMs: 120_000 });
    const remaining = await afterTitilerRollout(
      { startedBefore: promotedAt, runningOnly: true },
      (titilers) => titilers === 0,
    );
    assert.deepEqual(
      remaining.map((p) => p.owner).sort(),
      [
        'DaemonSet/log-shipper',
        'Deployment/duckdb-endpoint',
        'Deployment/projected',
        'StatefulSet/cache',
      ].sort(),
      JSON.stringify(remaining),
    );
  });

  test('pods of a template restarted after an instant are left out, whatever their start second', async () => {
    const titiler: WorkloadRef = { kind: 'Deployment', namespace: ns, name: 'titiler' };
    const instant = new Date();
    // A restartedAt after the instant, with pods that all start before `startedBefore`:
    // only the annotation can tell them apart from pods that read the Secret earlier.
    await rolloutRestart(kube, titiler, new Date(instant.getTime() + 600_000));
    await waitForRollout(kube, titiler, { timeoutMs: 120_000 });
    const startedBefore = new Date(Date.now() + 3_600_000);
    const owners = async (restartedAfter?: Date) =>
      (
        await afterTitilerRollout(
          { startedBefore, runningOnly: true, restartedAfter },
          (titilers) => titilers <= 2,
        )
      )
        .map((p) => p.owner)
        .sort();
    assert.deepEqual(await owners(), [
      'DaemonSet/log-shipper',
      'Deployment/duckdb-endpoint',
      'Deployment/projected',
      'Deployment/titiler',
      'Deployment/titiler',
      'StatefulSet/cache',
    ]);
    assert.deepEqual(await owners(instant), [
      'DaemonSet/log-shipper',
      'Deployment/duckdb-endpoint',
      'Deployment/projected',
      'StatefulSet/cache',
    ]);
    // An instant after the restart: the same pods count again.
    assert.ok((await owners(new Date(instant.getTime() + 700_000))).includes('Deployment/titiler'));
  });
});
