import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { getStack } from '../support/stack';
import { createKube, loadKubeConfig } from '../../src/kube/client';
import { KubeRolloutError, KubeRolloutTimeoutError } from '../../src/kube/errors';
import {
  RESTARTED_AT_ANNOTATION,
  readWorkload,
  restartedAtValue,
  rolloutRestart,
  rolloutStatus,
  waitForRollout,
  type WorkloadRef,
} from '../../src/kube/rollout';
import {
  NEVER_READY_ANNOTATION,
  createNamespace,
  daemonSetManifest,
  deleteNamespace,
  deploymentManifest,
  randomSuffix,
  statefulSetManifest,
} from '../support/kube-fixtures';

const stack = getStack();
const kube = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
const ns = `kube-rollout-${randomSuffix()}`;

before(async () => createNamespace(kube, ns));
after(async () => deleteNamespace(kube, ns));

const ref = (kind: WorkloadRef['kind'], name: string): WorkloadRef => ({ kind, namespace: ns, name });

/** Restart, wait, and check at the moment the wait returned that kubectl agrees it is done. */
async function restartAndWait(r: WorkloadRef, at: Date) {
  const progress: string[] = [];
  assert.deepEqual(await rolloutRestart(kube, r, at), { changed: true });
  const final = await waitForRollout(kube, r, { timeoutMs: 120_000, onProgress: (m) => progress.push(m) });
  const obj = await readWorkload(kube, r);
  assert.equal(rolloutStatus(obj, r.kind).done, true, 'kubectl agrees the rollout is done');
  assert.equal(obj.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], restartedAtValue(at));
  return { final, progress, obj };
}

describe('rollout restart and status against the control plane', () => {
  test('Deployment: a new ReplicaSet, done only once every new replica is available and old ones are gone', async () => {
    const r = ref('Deployment', 'titiler');
    await kube.apps.createNamespacedDeployment({
      namespace: ns,
      body: deploymentManifest(r.name, { replicas: 3 }),
    });
    await waitForRollout(kube, r, { timeoutMs: 120_000 });
    const before = (await kube.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=titiler' }))
      .items;
    assert.equal(before.length, 1);

    const at = new Date();
    const { final, progress, obj } = await restartAndWait(r, at);
    assert.equal(final.message, 'deployment "titiler" successfully rolled out');
    assert.ok(
      progress.some((m) => m.startsWith('Waiting for deployment "titiler" rollout to finish')),
      `progress lines: ${JSON.stringify(progress)}`,
    );
    const st = (obj as V1Deployment).status!;
    assert.equal(st.updatedReplicas, 3);
    assert.equal(st.replicas, 3, 'no old replica left');
    assert.ok((st.availableReplicas ?? 0) >= 3);

    const after = (await kube.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=titiler' }))
      .items;
    assert.equal(after.length, 2, 'the restart created a new ReplicaSet');
    const fresh = after.find((rs) => !before.some((b) => b.metadata?.uid === rs.metadata?.uid))!;
    assert.equal(
      fresh.spec?.template?.metadata?.annotations?.[RESTARTED_AT_ANNOTATION],
      restartedAtValue(at),
    );
    assert.equal(fresh.status?.readyReplicas, 3);
    const old = after.find((rs) => rs !== fresh)!;
    assert.equal(old.status?.replicas ?? 0, 0);

    // The same restart again (a retried activity) starts nothing.
    assert.deepEqual(await rolloutRestart(kube, r, at), { changed: false });
    assert.equal(
      (await kube.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=titiler' })).items
        .length,
      2,
    );
  });

  test('StatefulSet: every pod replaced with the new revision before done', async () => {
    const r = ref('StatefulSet', 'rustfs');
    await kube.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: statefulSetManifest(r.name, { replicas: 3 }),
    });
    await waitForRollout(kube, r, { timeoutMs: 120_000 });
    const revBefore = (await readWorkload(kube, r)).status as { updateRevision?: string };

    const { final, progress, obj } = await restartAndWait(r, new Date());
    assert.equal(final.message, 'partitioned roll out complete: 3 new pods have been updated...');
    assert.ok(progress.length >= 1);
    const st = (
      obj as { status?: { updateRevision?: string; updatedReplicas?: number; readyReplicas?: number } }
    ).status!;
    assert.notEqual(st.updateRevision, revBefore.updateRevision);
    assert.equal(st.updatedReplicas, 3);
    assert.equal(st.readyReplicas, 3);
    const pods = (await kube.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=rustfs' })).items;
    assert.equal(pods.length, 3);
    for (const p of pods) assert.equal(p.metadata?.labels?.['controller-revision-hash'], st.updateRevision);
  });

  test('DaemonSet: the pod on the kwok node is replaced', async () => {
    const r = ref('DaemonSet', 'agent');
    await kube.apps.createNamespacedDaemonSet({ namespace: ns, body: daemonSetManifest(r.name) });
    await waitForRollout(kube, r, { timeoutMs: 120_000 });
    const podsBefore = (await kube.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=agent' }))
      .items;
    assert.ok(podsBefore.length >= 1, 'kwok schedules the DaemonSet pod');

    const { final } = await restartAndWait(r, new Date());
    assert.equal(final.message, 'daemon set "agent" successfully rolled out');
    const podsAfter = (
      await kube.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=agent' })
    ).items.filter((p) => !p.metadata?.deletionTimestamp);
    assert.ok(podsAfter.every((p) => !podsBefore.some((b) => b.metadata?.uid === p.metadata?.uid)));
  });

  test("pods that never become ready: the progress deadline fails the wait with kubectl's message", async () => {
    const r = ref('Deployment', 'stuck');
    await kube.apps.createNamespacedDeployment({
      namespace: ns,
      body: deploymentManifest(r.name, { replicas: 3, progressDeadlineSeconds: 5 }),
    });
    await waitForRollout(kube, r, { timeoutMs: 120_000 });
    // The new pods will not become ready: same as a release whose new key is rejected.
    await kube.apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: r.name,
        body: { spec: { template: { metadata: { annotations: { [NEVER_READY_ANNOTATION]: 'true' } } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const progress: string[] = [];
    const started = Date.now();
    await assert.rejects(
      waitForRollout(kube, r, { timeoutMs: 120_000, onProgress: (m) => progress.push(m) }),
      (err: unknown) => {
        assert.ok(err instanceof KubeRolloutError, String(err));
        assert.equal(err.message, 'deployment "stuck" exceeded its progress deadline');
        assert.equal(err.nonRetryable, true);
        return true;
      },
    );
    assert.ok(Date.now() - started < 90_000);
    assert.ok(
      progress.some((m) =>
        /^Waiting for deployment "stuck" rollout to finish: \d+ (out of 3 new replicas have been updated|of \d+ updated replicas are available)\.\.\.$/.test(
          m,
        ),
      ),
      JSON.stringify(progress),
    );
  });

  test("pods that never become ready: the timeout fails the wait with kubectl's message and the last status", async () => {
    const r = ref('Deployment', 'slow');
    await kube.apps.createNamespacedDeployment({
      namespace: ns,
      body: deploymentManifest(r.name, { replicas: 2, neverReady: true, progressDeadlineSeconds: 600 }),
    });
    const started = Date.now();
    await assert.rejects(waitForRollout(kube, r, { timeoutMs: 4000 }), (err: unknown) => {
      assert.ok(err instanceof KubeRolloutTimeoutError, String(err));
      assert.match(err.message, /^timed out waiting for the condition/);
      assert.match(
        err.lastStatus,
        /^Waiting for deployment "slow" rollout to finish: 0 of 2 updated replicas are available\.\.\.$|^Waiting for deployment/,
      );
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 3900 && took < 15_000, `took ${took} ms`);
  });

  test('a paused Deployment is refused and left untouched', async () => {
    const r = ref('Deployment', 'paused');
    await kube.apps.createNamespacedDeployment({
      namespace: ns,
      body: deploymentManifest(r.name, { replicas: 1, paused: true }),
    });
    await assert.rejects(rolloutRestart(kube, r, new Date()), (err: unknown) => {
      assert.ok(err instanceof KubeRolloutError);
      assert.equal(err.nonRetryable, true);
      assert.match(
        err.message,
        /can't restart paused deployment "paused" in namespace "kube-rollout-.*" \(run rollout resume first\)/,
      );
      return true;
    });
    const obj = await readWorkload(kube, r);
    assert.equal(obj.spec?.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], undefined);
  });

  test('the wait is driven by the watch, and an abort signal ends it', async () => {
    const r = ref('Deployment', 'slow');
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('activity cancelled')), 500);
    await assert.rejects(
      waitForRollout(kube, r, { timeoutMs: 60_000, signal: ac.signal }),
      /activity cancelled/,
    );
  });
});
