// The dry-run plans, built from what a run read (src/workflows/plans.ts), without a run.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { loadInventory, type Inventory } from '../../src/inventory';
import {
  bootstrapPlan,
  rootPlan,
  workPoolNotes,
  ZONE_REFUSAL_NOTE,
  zonePlan,
  type RootPlanFacts,
} from '../../src/workflows/plans';

let inventory: Inventory;
before(async () => {
  inventory = await loadInventory(path.join(__dirname, '..', '..', 'config', 'dashi.yaml'));
});

const root = (over: Partial<RootPlanFacts> = {}): RootPlanFacts => ({
  approve: false,
  approvalTimeoutMs: 24 * 3600_000,
  restartTimeoutMs: 120_000,
  pauseTimeoutMs: 30 * 60_000,
  workloadName: 'StatefulSet/dashi-platform/rustfs',
  identity: { kind: 'minio', version: 'RELEASE.x', iamSurvivesRootChange: true },
  restart: {
    strategy: 'all-at-once',
    expectedDowntime: 'full store downtime while StatefulSet/dashi-platform/rustfs restarts',
  },
  ...over,
});

describe('rootPlan', () => {
  test('approval, the pending record, the switch, the restart, every zone re-ensured, clean-up', () => {
    const p = rootPlan(inventory, root());
    assert.equal(p.workflow, 'RotateRoot');
    assert.deepEqual(
      p.actions.map((a) => `${a.action} ${a.target}`),
      [
        'wait approval',
        'create Secret dashi-platform/rustfs-root-pending',
        'patch Secret dashi-platform/rustfs-root',
        'restart StatefulSet/dashi-platform/rustfs',
        'wait store',
        'verify zone ingest',
        'verify zone pipeline',
        'verify zone serving',
        'delete Secret dashi-platform/rustfs-root-pending',
      ],
    );
    assert.equal(p.actions[0]!.detail, 'approve update, up to 1d');
    assert.match(p.actions[4]!.detail, /within 2m; else PAUSE .* automatic rollback after 30m/);
    assert.ok(!p.expectedDowntime.includes(ZONE_REFUSAL_NOTE));
    assert.deepEqual(p.notes, []);
  });

  test('a store that loses IAM on a root change: policies first, the zones refused meanwhile, said so', () => {
    const p = rootPlan(
      inventory,
      root({
        approve: true,
        identity: {
          kind: 'rustfs',
          version: '1.0.0-alpha.85',
          iamSurvivesRootChange: false,
          rootDependents: { serviceAccounts: ['svc1'], serviceAccountsEffect: 'kept', sessions: 'ended' },
        },
      }),
    );
    assert.equal(p.actions[0]!.detail, 'pre-approved');
    assert.ok(p.actions.some((a) => a.action === 'create' && a.target === 'every zone policy'));
    assert.ok(p.expectedDowntime.endsWith(`; then ${ZONE_REFUSAL_NOTE}`));
    assert.deepEqual(p.notes, [
      'rustfs 1.0.0-alpha.85 loses IAM on root change: every zone is recreated from its Secret',
      'kept',
      'ended',
    ]);
  });
});

describe('bootstrapPlan', () => {
  const consumer = { kind: 'Deployment' as const, namespace: 'dashi-serving', name: 'titiler' };

  test('a new zone is created and its consumers restart; an existing one is re-ensured', () => {
    const p = bootstrapPlan(
      inventory,
      [
        { name: 'ingest', secret: { exists: false }, identity: { userExists: false }, consumers: [] },
        {
          name: 'pipeline',
          secret: {
            exists: true,
            accessKey: 'AK',
            fingerprint: 'sha256:aaaaaaaaaaaa',
            endpointMatches: true,
          },
          identity: { userExists: true },
          consumers: [],
        },
        {
          name: 'serving',
          secret: { exists: false },
          identity: { userExists: false },
          consumers: [consumer],
        },
      ],
      false,
    );
    const lines = p.actions.map((a) => `${a.action} ${a.target}: ${a.detail}`);
    assert.match(lines[0]!, /^create buckets .*: when missing$/);
    assert.ok(lines.includes('create user dashi-ingest + policy rotator-ingest: missing'));
    assert.ok(
      lines.includes('verify user dashi-pipeline + policy rotator-pipeline: exists; policy re-applied'),
    );
    assert.ok(
      lines.some((l) => /^verify Secret .*: AK sha256:aaaaaaaaaaaa re-ensured in the store$/.test(l)),
    );
    assert.ok(lines.includes('restart Deployment/dashi-serving/titiler: its Secret is new'));
    assert.ok(
      lines.some((l) => l.startsWith('patch work pool dashi-default')),
      'the zone with a work pool',
    );
    assert.ok(
      lines.some((l) => l.startsWith('patch NetworkPolicy dashi-platform/')),
      'networkPolicies.apply',
    );
    assert.ok(!lines.some((l) => l.includes('RotateZone')), 'no rotation asked');
    assert.equal(p.expectedDowntime, 'none for existing consumers (new Secrets only reach restarted pods)');
  });

  test('an endpoint that changed restarts the consumers; rotate: true plans a RotateZone per zone', () => {
    const p = bootstrapPlan(
      inventory,
      [
        {
          name: 'serving',
          secret: {
            exists: true,
            accessKey: 'AK',
            fingerprint: 'sha256:bbbbbbbbbbbb',
            endpointMatches: false,
          },
          identity: { userExists: true },
          consumers: [consumer],
        },
      ],
      true,
    );
    const lines = p.actions.map((a) => `${a.action} ${a.target}: ${a.detail}`);
    assert.ok(lines.some((l) => l.endsWith('re-ensured in the store; endpoint corrected')));
    assert.ok(lines.includes('restart Deployment/dashi-serving/titiler: endpoint changed'));
    assert.ok(lines.includes('patch zone serving: RotateZone (overlap)'));
  });
});

describe('zonePlan', () => {
  const zone = (name: string) => inventory.zones.find((z) => z.name === name)!;
  const consumers = ['Deployment/dashi-serving/titiler'];

  test('overlap: a new key verified, promoted, consumers restarted, the previous key revoked after grace', () => {
    const p = zonePlan(
      zone('serving'),
      'overlap',
      3600_000,
      7 * 24 * 3600_000,
      consumers,
      'dashi-rustfs-serving',
      600_000,
    );
    assert.deepEqual(
      p.actions.map((a) => a.action),
      ['create', 'create', 'verify', 'patch', 'restart', 'verify', 'wait', 'revoke', 'delete'],
    );
    assert.match(p.actions[6]!.detail, /stays valid for 1h .* at most 7d \(maxGrace\)/);
    assert.match(p.expectedDowntime, /^none/);
  });

  test('in-place: the previous key stops at once, the downtime bounded by the rollout timeout', () => {
    const p = zonePlan(zone('serving'), 'in-place', 0, 0, consumers, 'dashi-rustfs-serving', 600_000);
    assert.ok(p.actions.some((a) => a.action === 'patch' && /stops working NOW/.test(a.detail)));
    assert.ok(!p.actions.some((a) => a.action === 'revoke'));
    assert.match(p.expectedDowntime, /up to 10m before the rotation is undone/);
    const none = zonePlan(zone('serving'), 'in-place', 0, 0, [], 'dashi-rustfs-serving', 600_000);
    assert.ok(none.actions.some((a) => a.action === 'restart' && a.target === '(none)'));
    assert.match(none.expectedDowntime, /until they re-read the Secret/);
  });

  test('a zone with work pools: how its flow runs meet each strategy', () => {
    const pipeline = zone('pipeline');
    const [overlap] = workPoolNotes(pipeline, 'overlap');
    assert.match(overlap!, /^work pool dashi-default .* runs in flight finish with the previous key/);
    assert.match(workPoolNotes(pipeline, 'in-place')[0]!, /they fail$/);
    assert.deepEqual(workPoolNotes(zone('serving'), 'overlap'), []);
    assert.deepEqual(
      zonePlan(pipeline, 'overlap', 0, 1, [], 's', 1).notes,
      workPoolNotes(pipeline, 'overlap'),
    );
  });
});
