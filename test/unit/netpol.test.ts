import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadAllYaml, type V1NetworkPolicy } from '@kubernetes/client-node';
import { parseInventory } from '../../src/inventory';
import { STORE_POLICY_NAME } from '../../src/netpol/names';
import { networkPoliciesYaml, renderNetworkPolicies } from '../../src/netpol/render';
import { canReach, type NamespaceLabels, type PodShape } from '../../src/netpol/reach';
import { DASHI_YAML } from '../support/zone-mocks';

const ROOT = path.join(__dirname, '..', '..');

const dashi = () => parseInventory(DASHI_YAML, 'config/dashi.yaml');

const ns = (...names: string[]): NamespaceLabels =>
  new Map(names.map((n) => [n, { 'kubernetes.io/metadata.name': n }]));
const NAMESPACES = ns('dashi-platform', 'dashi-data', 'dashi-serving', 'rustfs-rotator', 'other');
const STORE: PodShape = { namespace: 'dashi-platform', labels: { app: 'rustfs' } };
const pod = (namespace: string, labels: Record<string, string>): PodShape => ({ namespace, labels });

describe('rendered NetworkPolicies', () => {
  test('the committed deploy/network-policies/dashi.yaml is what config/dashi.yaml renders', async () => {
    const inventory = dashi();
    const rendered = networkPoliciesYaml(renderNetworkPolicies(inventory), 'config/dashi.yaml');
    assert.equal(
      fs.readFileSync(path.join(ROOT, 'deploy', 'network-policies', 'dashi.yaml'), 'utf8'),
      rendered,
      'stale: rotator netpol --config config/dashi.yaml --write deploy/network-policies/dashi.yaml',
    );
  });

  test('the YAML reads back as the same objects, and admits exactly the inventory clients', async () => {
    const inventory = dashi();
    const objects = renderNetworkPolicies(inventory);
    const back = loadAllYaml(networkPoliciesYaml(objects, 'x')) as V1NetworkPolicy[];
    assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(objects)));
    assert.equal(back[0]!.metadata!.name, STORE_POLICY_NAME);
    const reach = (p: PodShape) => canReach(back, NAMESPACES, p, STORE, 9000).allowed;
    assert.ok(reach(pod('dashi-serving', { app: 'titiler', 'rotator.dev/zone': 'serving' })));
    assert.ok(reach(pod('dashi-data', { 'rotator.dev/zone': 'pipeline' })));
    assert.ok(reach(pod('dashi-data', { 'rotator.dev/zone': 'ingest' })));
    assert.ok(reach(pod('rustfs-rotator', { app: 'rustfs-rotator' })));
    assert.ok(reach(STORE), 'the store reaches itself');
    // A zone label in another zone's namespace, no label, a look-alike worker elsewhere: refused.
    assert.ok(!reach(pod('dashi-data', { 'rotator.dev/zone': 'serving' })));
    assert.ok(!reach(pod('dashi-serving', { app: 'titiler' })));
    assert.ok(!reach(pod('other', { app: 'rustfs-rotator' })));
    assert.ok(!reach(pod('other', { app: 'rustfs' })), 'store labels count only in the store namespace');
    // Another port of the store is not opened by the policy at all.
    assert.ok(
      !canReach(back, NAMESPACES, pod('dashi-data', { 'rotator.dev/zone': 'ingest' }), STORE, 9001).allowed,
    );
  });

  test('clients, port and labels come from the inventory; an unknown zone under clients is refused', async () => {
    const text = DASHI_YAML.replace(
      '\n  port: 9000\n',
      '\n  port: 9000\n  clients:\n    pipeline:\n      - podLabels: {prefect.io/work-pool-name: dashi-default}\n',
    );
    assert.notEqual(text, DASHI_YAML);
    const inv = parseInventory(text.replace('port: 9000', 'port: 7000'), 'x.yaml');
    const [p] = renderNetworkPolicies(inv);
    const reach = (s: PodShape, port = 7000) => canReach([p!], NAMESPACES, s, STORE, port).allowed;
    assert.ok(reach(pod('dashi-data', { 'prefect.io/work-pool-name': 'dashi-default' })));
    assert.ok(!reach(pod('dashi-serving', { 'prefect.io/work-pool-name': 'dashi-default' })));
    assert.ok(!reach(pod('dashi-data', { 'rotator.dev/zone': 'ingest' }), 9000));
    assert.throws(
      () => parseInventory(text.replace('clients:\n    pipeline:', 'clients:\n    pipline:'), 'x.yaml'),
      /networkPolicies\.clients\.pipline.*no zone "pipline"/s,
    );
    assert.throws(
      () => parseInventory(text.replace('port: 9000', 'port: 70000'), 'x.yaml'),
      /networkPolicies\.port.*1-65535/s,
    );
  });

  test('an inventory without the section renders nothing', async () => {
    const text = DASHI_YAML.replace(/^networkPolicies:\n(?: {2}.*\n)*/m, '');
    assert.doesNotMatch(text, /networkPolicies|storePods/);
    assert.deepEqual(renderNetworkPolicies(parseInventory(text, 'x.yaml')), []);
  });
});

const policy = (namespace: string, spec: V1NetworkPolicy['spec']): V1NetworkPolicy => ({
  metadata: { namespace, name: `p${Math.random().toString(36).slice(2, 6)}` },
  spec,
});

describe('what NetworkPolicies admit (networking.k8s.io/v1 semantics)', () => {
  const CLIENT = pod('dashi-data', { app: 'job', tier: 'batch' });

  test('a pod no policy selects is not isolated; an empty ingress list isolates it', () => {
    assert.ok(canReach([], NAMESPACES, CLIENT, STORE, 9000).allowed);
    const other = policy('dashi-platform', { podSelector: { matchLabels: { app: 'console' } }, ingress: [] });
    assert.ok(canReach([other], NAMESPACES, CLIENT, STORE, 9000).allowed, 'selects other pods only');
    const denyAll = policy('dashi-platform', { podSelector: {}, policyTypes: ['Ingress'] });
    assert.ok(!canReach([denyAll], NAMESPACES, CLIENT, STORE, 9000).allowed);
    // Policies add up: one more that admits the client opens it again.
    const allowAll = policy('dashi-platform', { podSelector: {}, ingress: [{}] });
    assert.ok(canReach([denyAll, allowAll], NAMESPACES, CLIENT, STORE, 9000).allowed);
  });

  test('peers: podSelector alone is the policy namespace; namespaceSelector alone is every pod there; both is AND', () => {
    const podOnly = policy('dashi-platform', {
      podSelector: {},
      ingress: [{ _from: [{ podSelector: { matchLabels: { app: 'job' } } }] }],
    });
    assert.ok(!canReach([podOnly], NAMESPACES, CLIENT, STORE, 9000).allowed);
    assert.ok(canReach([podOnly], NAMESPACES, pod('dashi-platform', { app: 'job' }), STORE, 9000).allowed);
    const nsOnly = policy('dashi-platform', {
      podSelector: {},
      ingress: [
        { _from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dashi-data' } } }] },
      ],
    });
    assert.ok(canReach([nsOnly], NAMESPACES, pod('dashi-data', {}), STORE, 9000).allowed);
    const everyNs = policy('dashi-platform', {
      podSelector: {},
      ingress: [{ _from: [{ namespaceSelector: {}, podSelector: { matchLabels: { tier: 'batch' } } }] }],
    });
    assert.ok(canReach([everyNs], NAMESPACES, CLIENT, STORE, 9000).allowed);
    assert.ok(!canReach([everyNs], NAMESPACES, pod('dashi-data', { tier: 'web' }), STORE, 9000).allowed);
  });

  test('matchExpressions: In, NotIn, Exists, DoesNotExist', () => {
    const expr = (operator: string, values?: string[]) =>
      policy('dashi-platform', {
        podSelector: {},
        ingress: [
          {
            _from: [
              {
                namespaceSelector: {},
                podSelector: { matchExpressions: [{ key: 'tier', operator, values }] },
              },
            ],
          },
        ],
      });
    const r = (p: V1NetworkPolicy, labels: Record<string, string>) =>
      canReach([p], NAMESPACES, pod('other', labels), STORE, 9000).allowed;
    assert.ok(r(expr('In', ['batch', 'web']), { tier: 'web' }));
    assert.ok(!r(expr('In', ['batch']), { tier: 'web' }));
    assert.ok(r(expr('NotIn', ['batch']), {}), 'NotIn matches a pod without the key');
    assert.ok(!r(expr('NotIn', ['batch']), { tier: 'batch' }));
    assert.ok(r(expr('Exists'), { tier: '' }));
    assert.ok(!r(expr('DoesNotExist'), { tier: 'x' }));
  });

  test('ports: number, range, named container port, protocol', () => {
    const ports = (p: NonNullable<NonNullable<V1NetworkPolicy['spec']>['ingress']>[number]['ports']) =>
      policy('dashi-platform', { podSelector: {}, ingress: [{ ports: p }] });
    const named: PodShape = { ...STORE, ports: [{ name: 's3', containerPort: 9000 }] };
    const r = (p: V1NetworkPolicy, port: number, target = STORE) =>
      canReach([p], NAMESPACES, CLIENT, target, port).allowed;
    assert.ok(r(ports([{ port: 9000 }]), 9000));
    assert.ok(!r(ports([{ port: 9001 }]), 9000));
    assert.ok(r(ports([{ port: 8000, endPort: 9100 }]), 9000));
    assert.ok(r(ports([{ port: 's3' }]), 9000, named));
    assert.ok(!r(ports([{ port: 's3' }]), 9000), 'a name the target pod does not declare');
    assert.ok(!r(ports([{ port: 9000, protocol: 'UDP' }]), 9000));
  });

  test('an ipBlock peer is taken as admitting (pod IPs cannot be told from labels), and says so', () => {
    const p = policy('dashi-platform', {
      podSelector: {},
      ingress: [{ _from: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }],
    });
    const v = canReach([p], NAMESPACES, CLIENT, STORE, 9000);
    assert.ok(v.allowed && v.ipBlock);
    assert.match(v.via.join(), /ipBlock/);
  });

  test("the client's own egress policies count too", () => {
    const denyEgress = policy('dashi-data', { podSelector: {}, policyTypes: ['Egress'] });
    const v = canReach([denyEgress], NAMESPACES, CLIENT, STORE, 9000);
    assert.ok(!v.allowed);
    assert.match(v.via.join(), /egress denied by the policies of dashi-data/);
    const toStore = policy('dashi-data', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'dashi-platform' } } }],
          ports: [{ port: 9000 }],
        },
      ],
    });
    assert.ok(canReach([denyEgress, toStore], NAMESPACES, CLIENT, STORE, 9000).allowed);
  });
});
