import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Deployment, V1NetworkPolicy } from '@kubernetes/client-node';
import { getStack } from '../support/stack';
import { DASHI_YAML } from '../support/zone-mocks';
import { createNetworkPolicyActivities } from '../../src/activities/network-policies';
import { parseInventory, ZONE_CLIENT_LABEL } from '../../src/inventory';
import { createKube, loadKubeConfig } from '../../src/kube/client';
import {
  createNamespace,
  deleteNamespace,
  deploymentManifest,
  envConsumer,
  randomSuffix,
  statefulSetManifest,
} from '../support/kube-fixtures';
import { auditNetworkPolicies, type NetworkAudit } from '../../src/netpol/audit';
import { NAMESPACE_NAME_LABEL, STORE_POLICY_NAME } from '../../src/netpol/names';

// config/dashi.yaml with its NetworkPolicies on, moved into this test's own namespaces, applied
// to the real apiserver and checked by the same static audit `rotator audit` runs.
const stack = getStack();
const kube = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
const p = `kube-netpol-${randomSuffix()}`;
const NS = {
  platform: `${p}-platform`,
  data: `${p}-data`,
  serving: `${p}-serving`,
  rotator: `${p}-rotator`,
  other: `${p}-other`,
};
const inventory = parseInventory(
  DASHI_YAML.replaceAll('dashi-platform', NS.platform)
    .replaceAll('dashi-data', NS.data)
    .replaceAll('dashi-serving', NS.serving)
    .replace('namespace: rustfs-rotator', `namespace: ${NS.rotator}`),
  'dashi.yaml (kube-netpol)',
);
const activities = createNetworkPolicyActivities({ inventory, kube });

function labelled(d: V1Deployment, labels: Record<string, string>): V1Deployment {
  Object.assign(d.spec!.template.metadata!.labels!, labels);
  return d;
}

async function deploy(namespace: string, d: V1Deployment): Promise<void> {
  await kube.apps.createNamespacedDeployment({ namespace, body: d });
}

/** The audit, narrowed to this test's namespaces: the apiserver is shared with other suites. */
async function audit(): Promise<NetworkAudit> {
  const a = await auditNetworkPolicies(inventory, kube);
  const ours = (s: string) => s.includes(p);
  return {
    ...a,
    pods: a.pods.filter((x) => ours(x.workload)),
    findings: a.findings.filter((f) => ours(f.subject)),
  };
}

const reachOf = (a: NetworkAudit, workload: string) => {
  const pod = a.pods.find((x) => x.workload === workload);
  assert.ok(pod, `${workload} among the audited pod templates: ${a.pods.map((x) => x.workload).join(', ')}`);
  return pod;
};

const SERVING_SECRET = 'dashi-rustfs-serving';
const PIPELINE_SECRET = 'dashi-rustfs-pipeline';

before(async () => {
  for (const ns of Object.values(NS)) await createNamespace(kube, ns);
  const store = statefulSetManifest('rustfs', {
    containers: [{ name: 'rustfs', image: 'rustfs:sandbox', ports: [{ name: 'api', containerPort: 9000 }] }],
  });
  store.spec!.replicas = 0;
  store.spec!.selector = { matchLabels: { app: 'rustfs' } };
  await kube.apps.createNamespacedStatefulSet({ namespace: NS.platform, body: store });
  const zero = (d: V1Deployment) => ((d.spec!.replicas = 0), d);
  await deploy(
    NS.serving,
    zero(
      labelled(deploymentManifest('titiler', { containers: [envConsumer(SERVING_SECRET)] }), {
        [ZONE_CLIENT_LABEL]: 'serving',
      }),
    ),
  );
  await deploy(
    NS.data,
    zero(
      labelled(deploymentManifest('flow-runner', { containers: [envConsumer(PIPELINE_SECRET)] }), {
        [ZONE_CLIENT_LABEL]: 'pipeline',
      }),
    ),
  );
  await deploy(NS.rotator, zero(deploymentManifest('rustfs-rotator')));
  // Reads no zone Secret: the policies must keep it out.
  await deploy(NS.serving, zero(deploymentManifest('outsider')));
  // A consumer of the serving Secret without the zone label: the policies would cut it off.
  await deploy(
    NS.serving,
    zero(deploymentManifest('duckdb-endpoint', { containers: [envConsumer(SERVING_SECRET)] })),
  );
});

after(async () => {
  for (const ns of Object.values(NS)) await deleteNamespace(kube, ns);
});

describe('NetworkPolicies on a real apiserver', () => {
  test('before any policy the audit says every pod can reach the store', async () => {
    const a = await audit();
    assert.equal(a.checked, true);
    assert.deepEqual(
      a.storePolicies.filter((x) => x.includes(p)),
      [],
    );
    assert.deepEqual(
      a.findings.map((f) => [f.severity, f.subject]),
      [['drift', `store ${NS.platform}/rustfs`]],
    );
  });

  test('applying refuses, naming the consumer it would cut off, and applies nothing', async () => {
    await assert.rejects(activities.applyNetworkPolicies(), (err: Error & { type?: string }) => {
      assert.equal(err.type, 'NetworkPolicyWouldCutOff');
      assert.match(err.message, new RegExp(`Deployment/${NS.serving}/duckdb-endpoint \\(zone serving\\)`));
      assert.doesNotMatch(err.message, /titiler|outsider/);
      assert.match(err.message, /nothing was applied/);
      return true;
    });
    const live = await kube.networking.listNamespacedNetworkPolicy({ namespace: NS.platform });
    assert.deepEqual(live.items, []);
  });

  test('with the consumer labelled, the policy is applied once and the audit finds nothing', async () => {
    await kube.apps.patchNamespacedDeployment({
      name: 'duckdb-endpoint',
      namespace: NS.serving,
      body: [
        {
          op: 'add',
          path: `/spec/template/metadata/labels/${ZONE_CLIENT_LABEL.replace('/', '~1')}`,
          value: 'serving',
        },
      ],
    });
    assert.deepEqual(await activities.applyNetworkPolicies(), [
      { policy: `${NS.platform}/${STORE_POLICY_NAME}`, outcome: 'created' },
    ]);
    assert.deepEqual(await activities.applyNetworkPolicies(), [
      { policy: `${NS.platform}/${STORE_POLICY_NAME}`, outcome: 'unchanged' },
    ]);
    const a = await audit();
    assert.deepEqual(a.findings, [], JSON.stringify(a.findings));
    assert.deepEqual(a.storePolicies, [`${NS.platform}/${STORE_POLICY_NAME}`]);
    for (const [workload, role] of [
      [`Deployment/${NS.serving}/titiler`, 'zone serving'],
      [`Deployment/${NS.serving}/duckdb-endpoint`, 'zone serving'],
      [`Deployment/${NS.data}/flow-runner`, 'zone pipeline'],
      [`Deployment/${NS.rotator}/rustfs-rotator`, 'worker'],
      [`StatefulSet/${NS.platform}/rustfs`, 'store'],
    ])
      assert.deepEqual([reachOf(a, workload!).role, reachOf(a, workload!).reaches], [role, true], workload);
    assert.equal(reachOf(a, `Deployment/${NS.serving}/outsider`).reaches, false);
  });

  test('a deliberately wrong policy admitting a whole zone namespace is a violation naming the outsider', async () => {
    const wrong: V1NetworkPolicy = {
      metadata: { name: 'serving-namespace-all', namespace: NS.platform },
      spec: {
        podSelector: { matchLabels: { app: 'rustfs' } },
        policyTypes: ['Ingress'],
        ingress: [
          { _from: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: NS.serving } } }] },
        ],
      },
    };
    await kube.networking.createNamespacedNetworkPolicy({ namespace: NS.platform, body: wrong });
    try {
      const a = await audit();
      assert.deepEqual(
        a.findings.map((f) => [f.severity, f.subject]),
        [['violation', `Deployment/${NS.serving}/outsider`]],
      );
      assert.match(a.findings[0]!.message, new RegExp(`admitted by .*${NS.platform}/serving-namespace-all`));
    } finally {
      await kube.networking.deleteNamespacedNetworkPolicy({
        name: 'serving-namespace-all',
        namespace: NS.platform,
      });
    }
  });

  test('a new consumer without the zone label is drift: the live policy would keep it out', async () => {
    await deploy(
      NS.data,
      ((d) => ((d.spec!.replicas = 0), d))(
        deploymentManifest('catalog', { containers: [envConsumer(PIPELINE_SECRET)] }),
      ),
    );
    const a = await audit();
    assert.deepEqual(
      a.findings.map((f) => [f.severity, f.subject]),
      [['drift', `Deployment/${NS.data}/catalog`]],
    );
    assert.match(a.findings[0]!.message, /label its pods rotator\.dev\/zone: pipeline/);
  });
});
