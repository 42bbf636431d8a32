// The topology preflight of a root rotation (issue 25 point 2), without a store: the erasure
// layout read from server-info replies captured from real 4-node RustFS clusters
// (test/fixtures/rustfs/<tag>/rustfs/info-4-nodes*.json, test/fixtures/rustfs/capture-cluster.ts),
// the node-to-node secret read from a pod spec, and the restart each combination allows.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type V1PodSpec } from '@kubernetes/client-node';
import { rpcSecretPinning, type StoreTopology } from '../../src/activities/store-topology';
import { degradedReasons, erasureLayout, nodesTolerated, writeQuorum } from '../../src/rustfs/topology';
import { chooseRootRestart, planRootRestart, type RootStrategy } from '../../src/workflows/root-restart';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'rustfs');
const RELEASES = ['1.0.0-alpha.85', '1.0.0-beta.7', '1.0.0-rc.3'];
const replyBody = (tag: string, name: string): string =>
  (
    JSON.parse(fs.readFileSync(path.join(FIXTURES, tag, 'rustfs', `${name}.json`), 'utf8')) as {
      body: string;
    }
  ).body;
const reply = (tag: string, name: string): unknown => JSON.parse(replyBody(tag, name));

describe('the erasure layout from server info', () => {
  for (const tag of RELEASES) {
    test(`${tag}: 4 nodes, one set of 4 drives, parity 2: one node may be down`, () => {
      const layout = erasureLayout(reply(tag, 'info-4-nodes'))!;
      assert.deepEqual(layout, { servers: 4, sets: 1, drivesPerSet: 4, parity: 2, drivesDown: 0 });
      assert.equal(writeQuorum(layout), 3);
      assert.equal(nodesTolerated(layout), 1);
    });
  }

  test('a stopped node counts against the tolerance where the release reports it (alpha.85, beta.7)', () => {
    for (const tag of ['1.0.0-alpha.85', '1.0.0-beta.7']) {
      const layout = erasureLayout(reply(tag, 'info-4-nodes-one-down'))!;
      assert.equal(layout.drivesDown, 1, tag);
      assert.equal(nodesTolerated(layout), 0, tag);
    }
    // rc.3 still reported the stopped node online 10 s later: its server info is no liveness signal.
    assert.equal(erasureLayout(reply('1.0.0-rc.3', 'info-4-nodes-one-down'))!.drivesDown, 0);
  });

  test('a single-drive store tolerates no node down; a reply without an erasure backend has no layout', () => {
    assert.equal(nodesTolerated({ servers: 1, sets: 1, drivesPerSet: 1, parity: 0, drivesDown: 0 }), 0);
    assert.equal(erasureLayout({ backend: { backendType: 'FS' }, servers: [{}] }), undefined);
    assert.equal(erasureLayout('not json'), undefined);
  });

  test('two drives per node in one set of 8 (parity 4, write quorum 5): one node down leaves 6', () => {
    assert.equal(nodesTolerated({ servers: 4, sets: 1, drivesPerSet: 8, parity: 4, drivesDown: 0 }), 1);
    // parity 2 on 8 drives: write quorum 6, two drives per node: one node down leaves exactly 6.
    assert.equal(nodesTolerated({ servers: 4, sets: 1, drivesPerSet: 8, parity: 2, drivesDown: 0 }), 1);
    assert.equal(nodesTolerated({ servers: 4, sets: 1, drivesPerSet: 8, parity: 2, drivesDown: 1 }), 0);
  });
});

const spec = (
  env: NonNullable<V1PodSpec['containers'][0]['env']>,
  envFrom?: V1PodSpec['containers'][0]['envFrom'],
) =>
  ({
    containers: [
      { name: 'sidecar', image: 'x' },
      {
        name: 'rustfs',
        image: 'rustfs',
        env: [
          {
            name: 'RUSTFS_SECRET_KEY',
            valueFrom: { secretKeyRef: { name: 'rustfs-root', key: 'secret-key' } },
          },
          ...env,
        ],
        ...(envFrom ? { envFrom } : {}),
      },
    ],
  }) as V1PodSpec;

describe('the node-to-node secret from the pod spec', () => {
  test('a key of a Secret of its own pins it (in the container that reads the root Secret)', () => {
    assert.deepEqual(
      rpcSecretPinning(
        spec([
          { name: 'RUSTFS_RPC_SECRET', valueFrom: { secretKeyRef: { name: 'rustfs-rpc', key: 'rpc' } } },
        ]),
        'rustfs-root',
      ),
      { pinned: true, via: 'key "rpc" of Secret rustfs-rpc' },
    );
    assert.equal(
      rpcSecretPinning(
        spec([{ name: 'RUSTFS_RPC_SECRET', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } }]),
        'rustfs-root',
      ).pinned,
      true,
    );
    assert.equal(
      rpcSecretPinning(spec([{ name: 'RUSTFS_RPC_SECRET', value: 'x' }]), 'rustfs-root').pinned,
      true,
    );
  });

  const unpinned: Array<[string, ReturnType<typeof spec>, RegExp]> = [
    ['absent', spec([]), /not set: the nodes derive/],
    ['empty', spec([{ name: 'RUSTFS_RPC_SECRET', value: '' }]), /set empty/],
    [
      'a key of the root Secret',
      spec([
        {
          name: 'RUSTFS_RPC_SECRET',
          valueFrom: { secretKeyRef: { name: 'rustfs-root', key: 'secret-key' } },
        },
      ]),
      /of the root Secret rustfs-root: it changes with the root/,
    ],
    [
      'an optional key',
      spec([
        {
          name: 'RUSTFS_RPC_SECRET',
          valueFrom: { secretKeyRef: { name: 'rustfs-rpc', key: 'rpc', optional: true } },
        },
      ]),
      /optional key of Secret rustfs-rpc/,
    ],
    [
      'only envFrom',
      spec([], [{ secretRef: { name: 'rustfs-env' } }]),
      /may come from envFrom \(Secret rustfs-env\)/,
    ],
  ];
  for (const [what, s, reason] of unpinned) {
    test(`${what}: not pinned, and says why`, () => {
      const got = rpcSecretPinning(s, 'rustfs-root');
      assert.equal(got.pinned, false);
      assert.match((got as { reason: string }).reason, reason);
    });
  }
});

const fourNodes = (over: Partial<StoreTopology> = {}): StoreTopology => ({
  replicas: 4,
  rpcSecret: { pinned: true, via: 'key "rpc-secret" of Secret rustfs-rpc' },
  erasure: { servers: 4, sets: 1, drivesPerSet: 4, parity: 2, drivesDown: 0, nodesTolerated: 1 },
  ...over,
});
const plan = (
  strategy: RootStrategy,
  topology: StoreTopology,
  over: { kind?: 'minio' | 'rustfs'; iamSurvivesRootChange?: boolean } = {},
) =>
  planRootRestart({
    kind: over.kind ?? 'rustfs',
    workload: 'StatefulSet/dashi-platform/rustfs',
    strategy,
    topology,
    iamSurvivesRootChange: over.iamSurvivesRootChange ?? true,
    restartTimeout: '2m',
  });

describe('the root restart each topology allows', () => {
  test('rolling on 4 RustFS nodes with a pinned RPC secret and a tolerated node down: refused until the restart checks each node', () => {
    const p = plan('rolling', fourNodes());
    assert.match(
      p.refused?.reason ?? '',
      /^4 pods could be restarted one at a time \(1 may be down\), but this version neither checks each node/,
    );
    assert.match(p.refused?.fix ?? '', /RustFS's procedure/);
    assert.equal(p.expectedDowntime, 'none: refused before anything changes');
  });

  test('all-at-once is always allowed: one store-wide window', () => {
    for (const t of [fourNodes({ rpcSecret: { pinned: false, reason: 'x' } }), fourNodes({ replicas: 1 })]) {
      const p = plan('all-at-once', t, { kind: 'minio' });
      assert.equal(p.refused, undefined);
      assert.match(p.expectedDowntime, /^full store downtime/);
    }
    assert.match(
      plan('all-at-once', fourNodes()).expectedDowntime,
      /all 4 pods of StatefulSet\/dashi-platform\/rustfs restart together/,
    );
  });

  const refusals: Array<[string, ReturnType<typeof plan>, RegExp, RegExp]> = [
    [
      'no pinned RPC secret',
      plan('rolling', fourNodes({ rpcSecret: { pinned: false, reason: 'RUSTFS_RPC_SECRET is not set' } })),
      /RUSTFS_RPC_SECRET is not set; restarted nodes .*"No valid auth token"/,
      /^pin RUSTFS_RPC_SECRET in the store's pod spec/,
    ],
    ['one replica', plan('rolling', fourNodes({ replicas: 1 })), /has 1 replica/, /all-at-once/],
    [
      'MinIO',
      plan('rolling', fourNodes(), { kind: 'minio' }),
      /MinIO's nodes must agree on the root/,
      /all-at-once/,
    ],
    [
      'IAM sealed with the root',
      plan('rolling', fourNodes(), { iamSurvivesRootChange: false }),
      /seals IAM with the root secret/,
      /all-at-once/,
    ],
    [
      'no erasure layout',
      plan('rolling', fourNodes({ erasure: undefined })),
      /no erasure layout/,
      /all-at-once/,
    ],
    [
      'servers and replicas differ',
      plan('rolling', fourNodes({ replicas: 2 })),
      /reports 4 servers but .* has 2 replicas/,
      /all-at-once/,
    ],
    [
      'a drive down already',
      plan('rolling', fourNodes({ erasure: { ...fourNodes().erasure!, drivesDown: 1, nodesTolerated: 0 } })),
      /1 down now\) keep their write quorum with no node down/,
      /^bring every drive back first/,
    ],
  ];
  for (const [what, p, reason, fix] of refusals) {
    test(`rolling refused: ${what}, with the reason and the fix`, () => {
      assert.ok(p.refused, JSON.stringify(p));
      assert.match(p.refused.reason, reason);
      assert.match(p.refused.fix, fix);
    });
  }
});

/** A plan of the strategies' era (the rolling facts preflight reads), on a RustFS store. */
const planOfEra = (strategy: RootStrategy, topology: StoreTopology, iamSurvivesRootChange = true) =>
  planRootRestart({
    kind: 'rustfs',
    workload: 'StatefulSet/dashi-platform/rustfs',
    strategy,
    topology,
    iamSurvivesRootChange,
    restartTimeout: '2m',
    rolling: { podsWithEndpoints: 4, settleSeconds: 5 },
  });

describe('all-at-once on a StatefulSet that recreates its pods in order', () => {
  const ordered = fourNodes({ podManagementPolicy: 'OrderedReady' });
  const withFacts = (strategy: RootStrategy, topology: StoreTopology) => planOfEra(strategy, topology);

  test('refused before anything changes, with the reason and the fix', () => {
    const p = withFacts('all-at-once', ordered);
    assert.match(
      p.refused?.reason ?? '',
      /podManagementPolicy OrderedReady: .* the store would not come back/,
    );
    assert.match(p.refused?.fix ?? '', /podManagementPolicy: Parallel .*--cascade=orphan/);
  });

  test('allowed with Parallel, on one pod, and in runs recorded before the strategies', () => {
    assert.equal(withFacts('all-at-once', fourNodes({ podManagementPolicy: 'Parallel' })).refused, undefined);
    assert.equal(withFacts('all-at-once', { ...ordered, replicas: 1 }).refused, undefined);
    assert.equal(plan('all-at-once', ordered).refused, undefined);
  });

  test('with rolling allowed, the strategy chosen is rolling; with rolling refused too, the run is refused', () => {
    assert.equal(chooseRootRestart(undefined, (s) => withFacts(s, ordered)).strategy, 'rolling');
    const unpinned = {
      ...ordered,
      rpcSecret: { pinned: false as const, reason: 'RUSTFS_RPC_SECRET is not set' },
    };
    const chosen = chooseRootRestart(undefined, (s) => withFacts(s, unpinned));
    assert.equal(chosen.strategy, 'all-at-once');
    assert.match(chosen.refused?.reason ?? '', /OrderedReady/);
  });
});

describe('a multi-node store that loses IAM on a root change (alpha.85)', () => {
  const sealed = (strategy: RootStrategy, topology: StoreTopology) => planOfEra(strategy, topology, false);

  test('neither strategy: refused before anything changes, with the reason and the fix', () => {
    const chosen = chooseRootRestart(undefined, (s) =>
      sealed(s, fourNodes({ podManagementPolicy: 'Parallel' })),
    );
    assert.equal(chosen.strategy, 'all-at-once');
    assert.match(chosen.refused?.reason ?? '', /loses it on a root change: on 4 nodes the zones re-created/);
    assert.match(chosen.refused?.fix ?? '', /keeps IAM across a root change/);
    assert.match(sealed('rolling', fourNodes()).refused?.reason ?? '', /seals IAM with the root secret/);
  });

  test('one node still rotates all at once; runs recorded before the strategies as they did', () => {
    assert.equal(sealed('all-at-once', fourNodes({ replicas: 1 })).refused, undefined);
    assert.equal(plan('all-at-once', fourNodes(), { iamSurvivesRootChange: false }).refused, undefined);
  });
});

describe('why a node says the cluster is not healthy (the pause reason of a rolling run)', () => {
  test('rc.3 with a peer hung: every node times out gathering the cluster state', () => {
    assert.deepEqual(degradedReasons(replyBody('1.0.0-rc.3', 'health-cluster-peer-hung')), [
      'cluster_health_timeout',
    ]);
  });
  test('a healthy rc.3 node names no reason', () => {
    assert.deepEqual(degradedReasons(replyBody('1.0.0-rc.3', 'health-ready')), []);
  });
  test('a body that is not RustFS JSON (MinIO answers with headers only) names none', () => {
    assert.deepEqual(degradedReasons(''), []);
    assert.deepEqual(degradedReasons('{"degradedReasons":"cluster_health_timeout"}'), []);
  });
});
