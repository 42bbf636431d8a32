import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NetworkingV1Api } from '@kubernetes/client-node';
import { WorkflowExecutionAlreadyStartedError, type WorkflowFailedError } from '@temporalio/client';
import { MANAGED_BY, STORE_POLICY_NAME } from '../../src/netpol/names';
import { revokeNowUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { startConsumerLoop } from '../support/consumer';
import { adminKube, eventually, readSecretData } from '../support/kube';
import {
  assertNoSecretsInHistory,
  collectSecretValues,
  startRotator,
  type Rotator,
} from '../support/rotator';
import { getStack } from '../support/stack';
import { canList, creds, storeAdmin } from '../support/store';

const stack = getStack();
const secrets = new Set<string>();
let rotator: Rotator;

async function rootAdmin() {
  const root = await readSecretData(stack, 'dashi-platform', 'rustfs-root');
  return storeAdmin(stack, creds(root));
}

/** No zone Secrets, no zone users or policies in the store: what a new cluster looks like. */
const networking = () => adminKube(stack).kc.makeApiClient(NetworkingV1Api);

async function factoryReset(): Promise<void> {
  const { core } = adminKube(stack);
  await networking()
    .deleteNamespacedNetworkPolicy({ name: STORE_POLICY_NAME, namespace: 'dashi-platform' })
    .catch(() => undefined);
  for (const [namespace, name] of [
    ['dashi-data', 'dashi-rustfs-ingest'],
    ['dashi-data', 'dashi-rustfs-pipeline'],
    ['dashi-serving', 'dashi-rustfs-serving'],
  ] as const) {
    for (const n of [name, `${name}-pending`])
      await core.deleteNamespacedSecret({ name: n, namespace }).catch(() => undefined);
  }
  const admin = await rootAdmin();
  for (const user of ['dashi-ingest', 'dashi-pipeline', 'dashi-serving-reader']) {
    for (const sa of await admin.listServiceAccounts(user).catch(() => []))
      await admin.deleteServiceAccount(sa.accessKey);
    await admin.removeUser(user).catch(() => undefined);
  }
  const users = await admin.listUsers();
  assert.deepEqual(
    Object.keys(users).filter((u) => u.startsWith('dashi-')),
    [],
    'no zone user left',
  );
}

async function run(workflow: string, id: string, input: object): Promise<WorkflowResult> {
  return rotator.client.workflow.execute(workflow, {
    taskQueue: rotator.taskQueue,
    workflowId: id,
    args: [input],
  });
}

describe('BootstrapCluster and RotateZone against the real stack', () => {
  before(async () => {
    rotator = await startRotator(stack, { grace: '2s' });
  });
  after(async () => {
    await rotator?.close();
  });

  test('bootstrap from an empty store and cluster creates every zone, restarts serving consumers, smokes', async () => {
    // Other test files may have bootstrapped already: reset to a factory-new platform.
    await factoryReset();
    const { apps } = adminKube(stack);
    const titilerBefore = await apps.readNamespacedDeployment({
      name: 'titiler',
      namespace: 'dashi-serving',
    });
    const restartedBefore =
      titilerBefore.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];

    const result = await run('BootstrapCluster', 'bootstrap-cluster', {});
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(result.zones.map((z) => z.zone).sort(), ['ingest', 'pipeline', 'serving']);
    const serving = result.zones.find((z) => z.zone === 'serving')!;
    assert.deepEqual(serving.restarted.sort(), [
      'Deployment/dashi-serving/duckdb-endpoint',
      'Deployment/dashi-serving/titiler',
    ]);

    const admin = await rootAdmin();
    for (const [ns, name, user] of [
      ['dashi-data', 'dashi-rustfs-ingest', 'dashi-ingest'],
      ['dashi-data', 'dashi-rustfs-pipeline', 'dashi-pipeline'],
      ['dashi-serving', 'dashi-rustfs-serving', 'dashi-serving-reader'],
    ] as const) {
      const data = await readSecretData(stack, ns, name);
      assert.equal(data.endpoint, stack.store.endpoint);
      assert.equal(data['secret-key']!.length, 40);
      const sa = await admin.infoServiceAccount(data['access-key']!);
      assert.equal(sa.parentUser, user, `${name} holds a service account of ${user}`);
    }
    const titiler = await apps.readNamespacedDeployment({ name: 'titiler', namespace: 'dashi-serving' });
    const restartedAfter =
      titiler.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt'];
    assert.ok(restartedAfter && restartedAfter !== restartedBefore, 'titiler was restarted');
    // config/dashi.yaml asks for the store's NetworkPolicy: applied, admitting each zone's label.
    const policy = await networking().readNamespacedNetworkPolicy({
      name: STORE_POLICY_NAME,
      namespace: 'dashi-platform',
    });
    assert.deepEqual(policy.metadata?.labels, { ...MANAGED_BY });
    assert.deepEqual(policy.spec?.podSelector?.matchLabels, { app: 'rustfs' });
    const [rule] = policy.spec?.ingress ?? [];
    assert.deepEqual(JSON.parse(JSON.stringify(rule?.ports)), [{ protocol: 'TCP', port: 9000 }]);
    assert.deepEqual(
      rule?._from?.flatMap((p) =>
        Object.entries(p.podSelector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`),
      ),
      [
        'app=rustfs',
        'app=rustfs-rotator',
        'rotator.dev/zone=ingest',
        'rotator.dev/zone=pipeline',
        'rotator.dev/zone=serving',
      ],
    );
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, ['bootstrap-cluster'], secrets);
  });

  test('re-running bootstrap changes nothing', async () => {
    const { core, apps } = adminKube(stack);
    const before = await core.readNamespacedSecret({
      name: 'dashi-rustfs-serving',
      namespace: 'dashi-serving',
    });
    const genBefore = (await apps.readNamespacedDeployment({ name: 'titiler', namespace: 'dashi-serving' }))
      .metadata?.generation;
    const result = await run('BootstrapCluster', 'bootstrap-cluster', {});
    assert.equal(result.outcome, 'completed');
    for (const z of result.zones) assert.deepEqual(z.restarted, [], `zone ${z.zone} restarted nothing`);
    const afterSecret = await core.readNamespacedSecret({
      name: 'dashi-rustfs-serving',
      namespace: 'dashi-serving',
    });
    assert.equal(afterSecret.metadata?.resourceVersion, before.metadata?.resourceVersion);
    const genAfter = (await apps.readNamespacedDeployment({ name: 'titiler', namespace: 'dashi-serving' }))
      .metadata?.generation;
    assert.equal(genAfter, genBefore);
    await assertNoSecretsInHistory(rotator, ['bootstrap-cluster'], secrets);
  });

  test('dry run returns the plan and changes nothing', async () => {
    const before = await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving');
    const result = await run('RotateZone', 'rotate-zone-serving', { zone: 'serving', dryRun: true });
    assert.equal(result.outcome, 'planned');
    assert.equal(result.plan?.strategy, 'overlap');
    assert.match(result.plan!.expectedDowntime, /^none/);
    assert.ok(
      result.plan!.actions.some(
        (a) => a.action === 'restart' && a.target === 'Deployment/dashi-serving/titiler',
      ),
    );
    assert.ok(result.plan!.actions.some((a) => a.action === 'revoke'));
    assert.deepEqual(await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving'), before);
  });

  test('unknown zone is refused with the known zones', async () => {
    await assert.rejects(
      () => run('RotateZone', 'rotate-zone-nope', { zone: 'servng' }),
      (err: WorkflowFailedError) => {
        assert.match(
          String((err.cause as Error).message),
          /Unknown zone "servng".*Known zones: ingest, pipeline, serving.*Did you mean "serving"/,
        );
        return true;
      },
    );
  });

  test('overlap rotation: zero failed requests for a consumer, previous key valid until revokeNow and not after', async () => {
    const previous = creds(await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving'));
    const loop = startConsumerLoop(stack, {
      namespace: 'dashi-serving',
      secret: 'dashi-rustfs-serving',
      deployment: 'titiler',
      bucket: 'processed',
    });
    // The rotation itself takes about a second: the consumer's requests must span it.
    await eventually('the consumer serving before the rotation', async () => loop.progress().requests >= 5);
    const handle = await rotator.client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving', grace: '1h' }],
    });
    // A second start of the same zone is refused while the first runs.
    await assert.rejects(
      () =>
        rotator.client.workflow.start('RotateZone', {
          taskQueue: rotator.taskQueue,
          workflowId: 'rotate-zone-serving',
          args: [{ zone: 'serving' }],
        }),
      WorkflowExecutionAlreadyStartedError,
    );
    // revokeNow before the grace period is rejected with a reason.
    const status = await eventually(
      'the grace period',
      async () => {
        const s = await handle.query(statusQuery);
        if (s.phase === 'failed') throw new Error(s.lastError);
        return s.phase === 'waiting-grace' ? s : undefined;
      },
      120_000,
    );
    assert.deepEqual(status.awaiting, ['revokeNow']);
    assert.equal(status.fingerprints.previous?.startsWith('sha256:'), true);
    assert.notEqual(status.fingerprints.previous, status.fingerprints.pending);

    const current = creds(await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving'));
    assert.notEqual(current.accessKey, previous.accessKey, 'consumers hold a new service account');
    assert.equal(await canList(stack, previous), true, 'the previous key still works during grace');
    assert.equal(await canList(stack, current), true);
    await collectSecretValues(stack, secrets);

    const ack = await handle.executeUpdate(revokeNowUpdate, { args: [{ by: 'e2e-test' }] });
    assert.match(ack, /revoked now.*e2e-test/);
    const result = await handle.result();
    const atEnd = loop.progress().requests;
    await eventually(
      'the consumer serving after the rotation',
      async () => loop.progress().requests >= atEnd + 5,
    );
    const report = await loop.stop();
    assert.equal(result.outcome, 'completed');
    assert.equal(report.failures, 0, `consumer failures: ${report.errors.join(', ')}`);
    assert.ok(report.requests >= 10, `the consumer kept working (${report.requests} requests)`);
    assert.ok(report.credentialsSeen >= 2, 'the consumer moved to the new key after its restart');
    assert.equal(await canList(stack, previous), 'AuthenticationFailed', 'the previous key is revoked');
    assert.equal(await canList(stack, current), true);
    await assert.rejects(
      () => readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving-pending'),
      /404|not found/i,
    );
    await assertNoSecretsInHistory(rotator, ['rotate-zone-serving'], secrets);
  });

  test('a flow-run Job started before the switch keeps the previous key valid until it is gone', async () => {
    const { core } = adminKube(stack);
    const batch = adminKube(stack).kc.makeApiClient((await import('@kubernetes/client-node')).BatchV1Api);
    const previous = creds(await readSecretData(stack, 'dashi-data', 'dashi-rustfs-pipeline'));
    const job = 'flow-run-e2e';
    await batch.createNamespacedJob({
      namespace: 'dashi-data',
      body: {
        metadata: { name: job },
        spec: {
          template: {
            metadata: { labels: { 'rotator.dev/zone': 'pipeline' } },
            spec: {
              restartPolicy: 'Never',
              containers: [
                {
                  name: 'flow',
                  image: 'prefect/flow:sandbox',
                  envFrom: [{ secretRef: { name: 'dashi-rustfs-pipeline' } }],
                },
              ],
            },
          },
        },
      },
    });
    await eventually('the Job pod to run', async () => {
      const pods = await core.listNamespacedPod({
        namespace: 'dashi-data',
        labelSelector: `job-name=${job}`,
      });
      return pods.items.some((p) => p.status?.phase === 'Running');
    });
    await new Promise((r) => setTimeout(r, 1100)); // start times have one-second resolution
    const handle = await rotator.client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-pipeline',
      args: [{ zone: 'pipeline', grace: '1s' }],
    });
    try {
      const waiting = await eventually(
        'the wait on the Job pod',
        async () => {
          const s = await handle.query(statusQuery);
          if (s.phase === 'failed' || s.phase === 'completed')
            throw new Error(`unexpected ${s.phase}: ${s.lastError}`);
          return s.pauseReason?.includes(`${job}-`) ? s : undefined;
        },
        60_000,
      );
      assert.match(
        waiting.pauseReason!,
        /1 pod\(s\) started before the switch still run: flow-run-e2e-\w+ \(Job\/flow-run-e2e\)/,
      );
      assert.equal(await canList(stack, previous, 'landing'), true, 'the in-flight Job keeps a working key');
    } finally {
      await batch.deleteNamespacedJob({
        name: job,
        namespace: 'dashi-data',
        propagationPolicy: 'Foreground',
      });
    }
    const result = await handle.result();
    assert.equal(result.outcome, 'completed');
    assert.match(result.zones[0]!.revoked!, /service account \w+ deleted/);
    assert.equal(await canList(stack, previous, 'landing'), 'AuthenticationFailed');
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, ['rotate-zone-pipeline'], secrets);
  });

  test('revokeNow outside the grace period is rejected by the validator', async () => {
    const handle = rotator.client.workflow.getHandle('rotate-zone-serving');
    await assert.rejects(
      () => handle.executeUpdate(revokeNowUpdate, { args: [{}] }),
      /completed|not found|accepted only/i,
    );
  });

  test('in-place rotation keeps the seed contract and shows its failure window', async () => {
    // First in-place run moves the zone from a service account to the user's own key.
    const first = await run('RotateZone', 'rotate-zone-serving', { zone: 'serving', strategy: 'in-place' });
    assert.equal(first.outcome, 'completed');
    const afterFirst = await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving');
    assert.equal(afterFirst['access-key'], 'dashi-serving-reader', 'access-key = user name, as in the seed');
    await collectSecretValues(stack, secrets);

    const loop = startConsumerLoop(stack, {
      namespace: 'dashi-serving',
      secret: 'dashi-rustfs-serving',
      deployment: 'titiler',
      bucket: 'processed',
      intervalMs: 20,
    });
    const second = await run('RotateZone', 'rotate-zone-serving', { zone: 'serving', strategy: 'in-place' });
    const report = await loop.stop();
    assert.equal(second.outcome, 'completed');
    assert.ok(report.failures > 0, 'in-place has a failure window between the store change and the restart');
    assert.ok(report.longestFailureMs > 0);
    assert.equal(await canList(stack, creds(afterFirst)), 'AuthenticationFailed');
    await collectSecretValues(stack, secrets);

    // Back to overlap; the user's own key is scrambled when revoked.
    const back = await run('RotateZone', 'rotate-zone-serving', { zone: 'serving', grace: '0s' });
    assert.equal(back.outcome, 'completed');
    const now = await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving');
    assert.notEqual(now['access-key'], 'dashi-serving-reader');
    assert.equal(await canList(stack, creds(now)), true);
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, ['rotate-zone-serving'], secrets);
  });

  test('bootstrap with rotate: true rotates every zone through RotateZone children', async () => {
    const before = await Promise.all(
      [
        ['dashi-data', 'dashi-rustfs-ingest'],
        ['dashi-data', 'dashi-rustfs-pipeline'],
        ['dashi-serving', 'dashi-rustfs-serving'],
      ].map(([ns, n]) => readSecretData(stack, ns!, n!)),
    );
    const startedAt = new Date(Date.now() - 1000).toISOString();
    const result = await run('BootstrapCluster', 'bootstrap-cluster', { rotate: true });
    assert.equal(result.outcome, 'completed');
    assert.equal(result.zones.length, 3);
    const afterAll = await Promise.all(
      [
        ['dashi-data', 'dashi-rustfs-ingest'],
        ['dashi-data', 'dashi-rustfs-pipeline'],
        ['dashi-serving', 'dashi-rustfs-serving'],
      ].map(([ns, n]) => readSecretData(stack, ns!, n!)),
    );
    for (let i = 0; i < 3; i++) {
      assert.notEqual(afterAll[i]!['secret-key'], before[i]!['secret-key'], 'every key rotated');
      assert.equal(await canList(stack, creds(afterAll[i]!), i === 0 ? 'landing' : 'processed'), true);
      assert.equal(
        await canList(stack, creds(before[i]!), i === 0 ? 'landing' : 'processed'),
        'AuthenticationFailed',
        `the previous key of Secret ${i} (ingest, pipeline, serving) is revoked`,
      );
    }
    await collectSecretValues(stack, secrets);
    // On-call filters by zone and kind in the Web UI; the same query through the API (runs of
    // other files on this server, e.g. a CLI plan of zone serving, started before this one):
    const found: string[] = [];
    for await (const wf of rotator.client.workflow.list({
      query: `RotatorZone = 'serving' AND RotatorKind = 'RotateZone' AND ExecutionStatus = 'Completed' AND StartTime >= '${startedAt}'`,
    })) {
      found.push(wf.workflowId);
    }
    assert.ok(found.length >= 1 && found.every((id) => id === 'rotate-zone-serving'), found.join(','));
    await assertNoSecretsInHistory(
      rotator,
      ['bootstrap-cluster', 'rotate-zone-ingest', 'rotate-zone-pipeline', 'rotate-zone-serving'],
      secrets,
    );
  });
});
