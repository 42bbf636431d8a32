import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { CoreV1Api, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { createKube, rolloutRestart } from '../../src/kube';
import { codecFromEnv } from '../../src/temporal/codec';
import { NativeConnection, Worker } from '@temporalio/worker';
import * as helloActivities from '../support/hello-activities';
import { adminKube, eventually, kubeConfigForToken, readSecretData, uniqueName } from '../support/kube';
import { getStack } from '../support/stack';

const stack = getStack();

async function listBuckets(accessKeyId: string, secretAccessKey: string) {
  const s3 = new S3Client({
    endpoint: stack.store.endpoint,
    region: stack.store.region,
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });
  try {
    return await s3.send(new ListBucketsCommand({}));
  } finally {
    s3.destroy();
  }
}

async function agentState() {
  return (await (await fetch(`${stack.agent.url}/state`)).json()) as {
    restarts: number;
    storeRunning: boolean;
    podUid: string | null;
  };
}

describe('the sandbox runs real components', () => {
  test('a 3-replica Deployment is rollout-restarted and completes through the controller-manager and kwok', async () => {
    const { core, apps } = adminKube(stack);
    const namespace = uniqueName('sbx');
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    try {
      const deployment: V1Deployment = {
        metadata: { name: 'web', namespace },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'nginx:sandbox' }] },
          },
        },
      };
      await apps.createNamespacedDeployment({ namespace, body: deployment });
      const firstRs = await eventually('3 available replicas', async () => {
        const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
        return d.status?.availableReplicas === 3 && d.status.updatedReplicas === 3;
      });
      assert.equal(firstRs, true);
      const before = await apps.listNamespacedReplicaSet({ namespace });
      assert.equal(before.items.length, 1);

      const restartedAt = new Date().toISOString();
      await apps.patchNamespacedDeployment(
        {
          name: 'web',
          namespace,
          body: {
            spec: {
              template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } },
            },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
      await eventually('the restarted rollout to complete', async () => {
        const d = await apps.readNamespacedDeployment({ name: 'web', namespace });
        const s = d.status;
        return (
          (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 1) &&
          s?.updatedReplicas === 3 &&
          s?.replicas === 3 &&
          s?.availableReplicas === 3
        );
      });
      const after = await apps.listNamespacedReplicaSet({ namespace });
      assert.equal(after.items.length, 2, 'a new ReplicaSet was created by the deployment controller');
      const fresh = after.items.find((rs) => rs.metadata?.name !== before.items[0]!.metadata?.name)!;
      assert.equal(
        fresh.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'],
        restartedAt,
      );
      const pods = await core.listNamespacedPod({ namespace });
      const running = pods.items.filter((p) => !p.metadata?.deletionTimestamp);
      assert.equal(running.length, 3);
      for (const p of running) {
        assert.ok(p.spec?.nodeName, 'scheduled by kube-scheduler');
        assert.equal(
          p.metadata?.ownerReferences?.[0]?.name,
          fresh.metadata?.name,
          'pods belong to the new ReplicaSet',
        );
        assert.equal(
          p.status?.conditions?.find((c) => c.type === 'Ready')?.status,
          'True',
          'made Ready by kwok',
        );
      }
    } finally {
      await core.deleteNamespace({ name: namespace });
    }
  });

  test('the no-permission token gets a 403 from the apiserver', async () => {
    const core = kubeConfigForToken(stack, stack.kube.noPermissionToken).makeApiClient(CoreV1Api);
    await assert.rejects(
      () => core.listNamespacedSecret({ namespace: 'dashi-platform' }),
      (err: { code?: number; body?: string }) => {
        assert.equal(err.code, 403);
        assert.match(String(err.body), /forbidden/i);
        return true;
      },
    );
    // ...and the admin token, through the same code path, is allowed.
    const admin = kubeConfigForToken(stack, stack.kube.adminToken).makeApiClient(CoreV1Api);
    const list = await admin.listNamespacedSecret({ namespace: 'dashi-platform' });
    assert.ok(list.items.some((s) => s.metadata?.name === 'rustfs-root'));
  });

  test('a SigV4-signed request to the store succeeds with the root key from the Secret and fails with a wrong one', async () => {
    const root = await readSecretData(stack, 'dashi-platform', 'rustfs-root');
    assert.equal(root.endpoint, stack.store.endpoint);
    const ok = await listBuckets(root['access-key']!, root['secret-key']!);
    assert.equal(ok.$metadata.httpStatusCode, 200);
    await assert.rejects(
      () => listBuckets(root['access-key']!, `${root['secret-key']}-wrong`),
      (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(err.$metadata?.httpStatusCode, 403);
        assert.equal(err.name, 'SignatureDoesNotMatch');
        return true;
      },
    );
  });

  test('a trivial workflow runs on the Temporal dev server', async () => {
    const connection = await NativeConnection.connect({ address: stack.temporal.address });
    const taskQueue = uniqueName('hello');
    const worker = await Worker.create({
      connection,
      namespace: stack.temporal.namespace,
      taskQueue,
      workflowsPath: require.resolve('../support/workflows/hello'),
      activities: helloActivities,
    });
    const clientConnection = await Connection.connect({ address: stack.temporal.address });
    try {
      const client = new Client({ connection: clientConnection, namespace: stack.temporal.namespace });
      const result = await worker.runUntil(
        client.workflow.execute('hello', { taskQueue, workflowId: uniqueName('hello'), args: ['on-call'] }),
      );
      assert.match(result, new RegExp(`^hello, on-call \\(pid ${process.pid}\\)$`));
    } finally {
      await clientConnection.close();
      await connection.close();
    }
  });

  test('the Web UI is served and decrypts payloads through the sandbox codec server', async () => {
    const ui = await fetch(stack.temporal.uiUrl);
    assert.equal(ui.status, 200);
    const settings = (await (await fetch(`${stack.temporal.uiUrl}/api/v1/settings`)).json()) as {
      Codec?: { Endpoint?: string };
    };
    assert.equal(settings.Codec?.Endpoint, stack.codec.endpoint);
    const codec = codecFromEnv({
      ROTATOR_CODEC_KEY: stack.codec.key,
      ROTATOR_CODEC_KEY_ID: stack.codec.keyId,
    })!;
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ phase: 'paused' })]);
    const res = await fetch(`${stack.codec.endpoint}/decode`, {
      method: 'POST',
      body: JSON.stringify({
        payloads: [
          {
            metadata: Object.fromEntries(
              Object.entries(enc!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
            ),
            data: Buffer.from(enc!.data!).toString('base64'),
          },
        ],
      }),
    });
    const out = (await res.json()) as { payloads: Array<{ data: string }> };
    assert.deepEqual(JSON.parse(Buffer.from(out.payloads[0]!.data, 'base64').toString()), {
      phase: 'paused',
    });
  });

  test('after the root Secret changes and the StatefulSet restarts, the node agent brings the store back with only the NEW root key', async () => {
    const { core, apps, kc } = adminKube(stack);
    const kube = createKube(kc);
    const { namespace, name } = stack.store.rootSecret;
    const old = await readSecretData(stack, namespace, name);
    const before = await agentState();
    const newSecret = `sandbox-test-${Date.now()}-rotated-root-key`;
    // What RotateRoot does, by hand: a new root secret, then a rollout restart of the store.
    const setRootAndRestart = async (secretKey: string) => {
      await core.patchNamespacedSecret(
        { name, namespace, body: { stringData: { 'secret-key': secretKey } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await rolloutRestart(kube, stack.store.workload, new Date());
    };
    await setRootAndRestart(newSecret);
    try {
      await eventually(
        'the node agent to restart the store for the new pod',
        async () => {
          const s = await agentState();
          return s.restarts > before.restarts && s.storeRunning && s.podUid !== before.podUid;
        },
        90_000,
      );
      await eventually('the StatefulSet pod to be Ready again', async () => {
        const sts = await apps.readNamespacedStatefulSet({ name: stack.store.workload.name, namespace });
        return sts.status?.readyReplicas === 1 && sts.status.updatedReplicas === 1;
      });
      const ok = await listBuckets(old['access-key']!, newSecret);
      assert.equal(ok.$metadata.httpStatusCode, 200);
      await assert.rejects(
        () => listBuckets(old['access-key']!, old['secret-key']!),
        /SignatureDoesNotMatch|InvalidAccessKeyId/,
      );
    } finally {
      // Put the original root back so later tests start from the sandbox's initial state.
      const mid = await agentState();
      await setRootAndRestart(old['secret-key']!);
      await eventually(
        'the store to come back with the original root',
        async () => {
          const s = await agentState();
          return (
            s.restarts > mid.restarts &&
            s.storeRunning &&
            (await listBuckets(old['access-key']!, old['secret-key']!))
          );
        },
        90_000,
      );
    }
  });
});
