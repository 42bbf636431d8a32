import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  findZone,
  InventoryError,
  loadInventory,
  parseInventory,
  UnknownZoneError,
  type Inventory,
  type InventoryIssue,
} from '../../src/inventory';
import { VALID_INVENTORY } from '../support/inventory';

const ROOT = path.join(__dirname, '..', '..');
const DASHI = path.join(ROOT, 'config', 'dashi.yaml');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'inventory');

function issuesOf(text: string, file = 'bad.yaml'): { error: InventoryError; issues: InventoryIssue[] } {
  try {
    parseInventory(text, file);
  } catch (error) {
    assert.ok(error instanceof InventoryError, `expected InventoryError, got ${String(error)}`);
    return { error, issues: error.issues };
  }
  assert.fail('expected the inventory to be rejected');
}

/** Asserts one issue at `at`, whose message matches `expected`, and that it is in the readable message. */
function assertRejected(text: string, at: string, expected: RegExp, line?: number): InventoryIssue {
  const { error, issues } = issuesOf(text);
  const issue = issues.find((i) => i.path === at);
  assert.ok(issue, `no issue at ${at}; got:\n${error.message}`);
  assert.match(issue.message, expected);
  assert.equal(issue.file, 'bad.yaml');
  if (line !== undefined) assert.equal(issue.line, line, error.message);
  assert.ok(error.message.includes(`bad.yaml:${issue.line}:${issue.column}: ${at}: `), error.message);
  return issue;
}

test('dashi.yaml encodes the seed runbook identity inventory', async () => {
  const inv = await loadInventory(DASHI);
  assert.deepEqual(inv.store, {
    kind: 'rustfs',
    endpoint: 'http://rustfs.dashi-platform.svc.cluster.local:9000',
    adminEndpoint: 'http://rustfs.dashi-platform.svc.cluster.local:9000',
    adminApi: 'rustfs',
    region: 'us-east-1',
    rootSecret: { namespace: 'dashi-platform', name: 'rustfs-root' },
    workload: { kind: 'StatefulSet', namespace: 'dashi-platform', name: 'rustfs' },
    restartTimeout: '2m',
    restartTimeoutMs: 120_000,
    pauseTimeout: '30m',
    pauseTimeoutMs: 1_800_000,
    // Stated in the file: the in-cluster Service is plain http://.
    allowInsecureAdmin: true,
  });
  const summary = inv.zones.map((z) => ({
    name: z.name,
    user: z.user,
    rw: [...z.policy.readWrite].sort(),
    ro: [...z.policy.readOnly].sort(),
    statements: z.policy.statements.length,
    secret: `${z.secret.namespace}/${z.secret.name}`,
    consumers: z.consumers,
    strategy: z.strategy,
    graceMs: z.graceMs,
    maxGraceMs: z.maxGraceMs,
  }));
  assert.deepEqual(summary, [
    {
      name: 'ingest',
      user: 'dashi-ingest',
      rw: ['landing'],
      ro: [],
      statements: 0,
      secret: 'dashi-data/dashi-rustfs-ingest',
      consumers: [],
      strategy: 'overlap',
      graceMs: 600_000,
      maxGraceMs: 86_400_000,
    },
    {
      name: 'pipeline',
      user: 'dashi-pipeline',
      rw: ['curated', 'processed'],
      ro: ['landing'],
      statements: 0,
      secret: 'dashi-data/dashi-rustfs-pipeline',
      // Prefect flow-run Jobs resolve the Secret at pod admission: nothing to restart.
      consumers: [],
      strategy: 'overlap',
      graceMs: 600_000,
      maxGraceMs: 86_400_000,
    },
    {
      name: 'serving',
      user: 'dashi-serving-reader',
      rw: [],
      ro: ['curated', 'processed'],
      statements: 0,
      secret: 'dashi-serving/dashi-rustfs-serving',
      consumers: [
        { kind: 'Deployment', namespace: 'dashi-serving', name: 'titiler' },
        { kind: 'Deployment', namespace: 'dashi-serving', name: 'duckdb-endpoint' },
      ],
      strategy: 'overlap',
      graceMs: 600_000,
      maxGraceMs: 86_400_000,
    },
  ]);
  assert.deepEqual(inv.buckets, ['curated', 'landing', 'processed']);
  assert.deepEqual(inv.smoke, { outsideBucket: 'rotator-smoke-outside', prefix: 'rotator-smoke/' });
  // The runbook: the root credential must not be mounted into application pods.
  for (const zone of inv.zones) assert.notEqual(zone.secret.namespace, inv.store.rootSecret.namespace);
});

test('defaults: adminEndpoint, adminApi auto, region, timeouts, zone fields', async () => {
  const inv = await loadInventory(path.join(FIXTURES, 'minimal.yaml'));
  assert.equal(inv.store.adminEndpoint, 'http://127.0.0.1:9000');
  assert.equal(inv.store.adminApi, 'auto');
  assert.equal(inv.store.region, 'us-east-1');
  assert.equal(inv.store.restartTimeout, '2m');
  assert.equal(inv.store.restartTimeoutMs, 120_000);
  assert.equal(inv.store.pauseTimeoutMs, 30 * 60_000);
  const [zone] = inv.zones;
  assert.ok(zone);
  assert.equal(zone.consumers, 'auto');
  assert.equal(zone.strategy, 'overlap');
  assert.equal(zone.grace, '10m');
  assert.equal(zone.graceMs, 600_000);
  assert.deepEqual(zone.policy, { readWrite: ['data'], readOnly: [], statements: [] });

  const rustfs = parseInventory(VALID_INVENTORY, 'valid.yaml');
  assert.equal(rustfs.store.adminApi, 'auto');
});

test('the defaults block applies to zones that do not set the field, and zones override it', () => {
  const text = VALID_INVENTORY.replace(
    'zones:',
    'defaults:\n  strategy: in-place\n  grace: 1h30m\n  consumers: []\nzones:',
  ).replace(
    'secret: { namespace: web, name: serving-s3 }',
    'secret: { namespace: web, name: serving-s3 }\n    grace: 90s\n    strategy: overlap',
  );
  const inv: Inventory = parseInventory(text, 'x.yaml');
  const [ingest, serving] = inv.zones;
  assert.ok(ingest && serving);
  assert.equal(ingest.strategy, 'in-place');
  assert.equal(ingest.graceMs, 90 * 60_000);
  assert.deepEqual(ingest.consumers, []);
  assert.equal(serving.strategy, 'overlap');
  assert.equal(serving.grace, '90s');
  assert.equal(serving.graceMs, 90_000);
});

test('plain http:// admin calls to a non-loopback host are refused unless store.allowInsecureAdmin: true', () => {
  const withEndpoint = (endpoint: string, extra = '') =>
    VALID_INVENTORY.replace('  endpoint: https://rustfs.ns.svc:9000\n', `  endpoint: ${endpoint}\n${extra}`);
  // Located at the URL the admin calls go to, naming it and the setting; every dialect.
  for (const adminApi of ['rustfs', 'madmin', 'auto']) {
    const issue = assertRejected(
      withEndpoint('http://rustfs.ns.svc:9000', `  adminApi: ${adminApi}\n`),
      'store.endpoint',
      /^expected https:\/\/ for the store's admin API, got plain http:\/\/ to the non-loopback host rustfs\.ns\.svc:9000 \(http:\/\/rustfs\.ns\.svc:9000\): .*set store\.allowInsecureAdmin: true/,
      4,
    );
    assert.equal(issue.column, 13);
  }
  // adminEndpoint is what the worker calls: it is the one checked, and named.
  assertRejected(
    withEndpoint('https://rustfs.ns.svc:9000', '  adminEndpoint: http://10.0.0.7:9000\n'),
    'store.adminEndpoint',
    /non-loopback host 10\.0\.0\.7:9000 \(http:\/\/10\.0\.0\.7:9000\)/,
    5,
  );
  // Consumers may get http:// when the worker's own route is https:// or loopback.
  const viaLoopback = parseInventory(
    withEndpoint('http://rustfs.ns.svc:9000', '  adminEndpoint: http://127.0.0.1:9000\n'),
    'ok.yaml',
  );
  assert.equal(viaLoopback.store.allowInsecureAdmin, undefined);
  for (const ok of [
    'https://rustfs.ns.svc:9000',
    'http://127.0.0.1:9000',
    'http://localhost:9000',
    'http://[::1]:9000',
  ])
    assert.equal(parseInventory(withEndpoint(ok), 'ok.yaml').store.adminEndpoint, ok.replace(/\/$/, ''));
  // Allowed when stated, and the choice is kept.
  const allowed = parseInventory(
    withEndpoint('http://rustfs.ns.svc:9000', '  allowInsecureAdmin: true\n'),
    'ok.yaml',
  );
  assert.equal(allowed.store.allowInsecureAdmin, true);
  assertRejected(
    withEndpoint('http://rustfs.ns.svc:9000', '  allowInsecureAdmin: yes\n'),
    'store.allowInsecureAdmin',
    /^expected true or false/,
  );
  // No store sends admin calls over plain http:// to another host by default.
  assertRejected(
    withEndpoint('http://rustfs.ns.svc:9000', '  allowInsecureAdmin: false\n'),
    'store.endpoint',
    /non-loopback host/,
  );
});

test('missing field names the path and what belongs there', () => {
  assertRejected(
    VALID_INVENTORY.replace('  endpoint: https://rustfs.ns.svc:9000\n', ''),
    'store.endpoint',
    /^expected an http\(s\) URL .*, but it is missing$/,
  );
  assertRejected(
    VALID_INVENTORY.replace(
      'rootSecret: { namespace: platform, name: root }',
      'rootSecret: { namespace: platform }',
    ),
    'store.rootSecret.name',
    /expected a Kubernetes object name \(RFC 1123 .*\), but it is missing/,
    5,
  );
  assertRejected(
    VALID_INVENTORY.replace(/ {4}user: serving-user\n/, ''),
    'zones[1].user',
    /expected a RustFS user name.*missing/,
  );
});

test('wrong type says what was expected and what was found', () => {
  assertRejected(
    VALID_INVENTORY.replace('readWrite: [landing]', 'readWrite: [landing, 42]'),
    'zones[0].policy.readWrite[1]',
    /expected an S3 bucket name .*, got number 42$/,
    11,
  );
  assertRejected(
    VALID_INVENTORY.replace('readWrite: [landing]', 'readWrite: landing'),
    'zones[0].policy.readWrite',
    /expected a list of bucket names, got "landing"/,
  );
  assertRejected(
    VALID_INVENTORY.replace(/zones:[\s\S]*/, 'zones: {}\n'),
    'zones',
    /expected a list of zones, got a mapping/,
  );
  assertRejected(
    VALID_INVENTORY.replace('kind: rustfs', 'kind: ceph'),
    'store.kind',
    /expected "rustfs" or "minio", got "ceph"/,
  );
});

test('duplicate zone name, user and Secret are rejected with the other occurrence', () => {
  const dupName = VALID_INVENTORY.replace('- name: serving', '- name: ingest');
  assertRejected(dupName, 'zones[1].name', /unique zone name, but "ingest" is also zones\[0\]\.name/, 13);
  const dupUser = VALID_INVENTORY.replace('user: serving-user', 'user: ingest-user');
  assertRejected(dupUser, 'zones[1].user', /unique user, but "ingest-user" is also zones\[0\]\.user/);
  const dupSecret = VALID_INVENTORY.replace(
    '{ namespace: web, name: serving-s3 }',
    '{ namespace: data, name: ingest-s3 }',
  );
  assertRejected(
    dupSecret,
    'zones[1].secret',
    /unique Secret, but data\/ingest-s3 of zone "serving" is also zones\[0\]\.secret of zone "ingest"/,
  );
  const rootAsZone = VALID_INVENTORY.replace(
    '{ namespace: web, name: serving-s3 }',
    '{ namespace: platform, name: root }',
  );
  assertRejected(
    rootAsZone,
    'zones[1].secret',
    /other than the root Secret platform\/root, but zone "serving" and the root credential \(store\.rootSecret\) both name it/,
  );
});

test('bad durations are rejected with examples of good ones', () => {
  assertRejected(
    VALID_INVENTORY.replace('  rootSecret:', '  restartTimeout: 2 minutes\n  rootSecret:'),
    'store.restartTimeout',
    /expected a non-zero duration like "90s", "10m", "1h30m".*got "2 minutes"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('  rootSecret:', '  pauseTimeout: 0s\n  rootSecret:'),
    'store.pauseTimeout',
    /non-zero duration.*got "0s"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    grace: 10'),
    'zones[1].grace',
    /expected a duration like .*got number 10$/,
  );
  // Zero grace is legal: revoke as soon as no old pod still uses the key.
  assert.equal(
    parseInventory(VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    grace: 0s'), 'x')
      .zones[1]?.graceMs,
    0,
  );
});

test('maxGrace bounds the grace wait: 24h by default, set per zone or in defaults, never below grace', async () => {
  const minimal = await loadInventory(path.join(FIXTURES, 'minimal.yaml'));
  assert.equal(minimal.zones[0]?.maxGrace, '24h');
  assert.equal(minimal.zones[0]?.maxGraceMs, 24 * 3_600_000);
  const inv = parseInventory(
    VALID_INVENTORY.replace('zones:', 'defaults:\n  maxGrace: 12h\nzones:').replace(
      'name: serving-s3 }',
      'name: serving-s3 }\n    maxGrace: 2d',
    ),
    'x.yaml',
  );
  assert.deepEqual(
    inv.zones.map((z) => [z.name, z.maxGrace, z.maxGraceMs]),
    [
      ['ingest', '12h', 12 * 3_600_000],
      ['serving', '2d', 48 * 3_600_000],
    ],
  );
  assertRejected(
    VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    maxGrace: 0s'),
    'zones[1].maxGrace',
    /expected a non-zero duration like .*got "0s"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    maxGrace: soon'),
    'zones[1].maxGrace',
    /expected a non-zero duration like .*got "soon"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('zones:', 'defaults:\n  maxGrace: 1 day\nzones:'),
    'defaults.maxGrace',
    /expected a non-zero duration/,
  );
  // Shorter than grace: located where the bound was written, or at the grace that exceeds the default.
  assertRejected(
    VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    grace: 2h\n    maxGrace: 1h'),
    'zones[1].maxGrace',
    /expected maxGrace \(1h\) at least as long as grace \(2h\) for zone "serving"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('zones:', 'defaults:\n  maxGrace: 5m\nzones:'),
    'defaults.maxGrace',
    /expected maxGrace \(5m\) at least as long as grace \(10m\) for zone "ingest"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    grace: 2d'),
    'zones[1].grace',
    /expected maxGrace \(24h\) at least as long as grace \(2d\) for zone "serving"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    maxGrce: 2h'),
    'zones[1].maxGrce',
    /unknown field "maxGrce" \(did you mean "maxGrace"\?\)/,
  );
});

test('Kubernetes names follow RFC 1123', () => {
  assertRejected(
    VALID_INVENTORY.replace(
      '{ namespace: web, name: serving-s3 }',
      '{ namespace: Web_Apps, name: serving-s3 }',
    ),
    'zones[1].secret.namespace',
    /expected a Kubernetes namespace \(RFC 1123 label.*got "Web_Apps"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('{ namespace: web, name: serving-s3 }', '{ namespace: web, name: serving-s3- }'),
    'zones[1].secret.name',
    /RFC 1123 subdomain.*got "serving-s3-"/,
  );
  assertRejected(
    VALID_INVENTORY.replace(
      'namespace: platform, name: rustfs',
      `namespace: platform, name: ${'a'.repeat(254)}`,
    ),
    'store.workload.name',
    /at most 253/,
  );
  assertRejected(
    VALID_INVENTORY.replace('- name: serving', '- name: Serving'),
    'zones[1].name',
    /expected a zone name.*got "Serving"/,
  );
});

test('unknown keys are rejected with a did-you-mean and the allowed keys', () => {
  const typo = assertRejected(
    VALID_INVENTORY.replace('readOnly: [landing]', 'readonly: [landing]'),
    'zones[1].policy.readonly',
    /^unknown field "readonly" \(did you mean "readOnly"\?\); expected one of: readWrite, readOnly, statements$/,
  );
  assert.equal(typo.line, 16);
  assert.equal(typo.column, 7);
  assertRejected(
    VALID_INVENTORY.replace('  rootSecret:', '  pauseTimout: 30m\n  rootSecret:'),
    'store.pauseTimout',
    /did you mean "pauseTimeout"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('zones:', 'zone_list: []\nzones:'),
    'zone_list',
    /^unknown field "zone_list"; expected one of: store, defaults, smoke, notifications, networkPolicies, (retries, )?approvals, zones$/,
  );
  assertRejected(
    VALID_INVENTORY.replace(
      'readOnly: [landing]',
      'readOnly: [landing]\n      statements: [{ Effect: Allow, action: "s3:GetObject", Resource: "*" }]',
    ),
    'zones[1].policy.statements[0].action',
    /did you mean "Action"/,
  );
});

test('enum typos get a suggestion', () => {
  assertRejected(
    VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    strategy: inplace'),
    'zones[1].strategy',
    /got "inplace" \(did you mean "in-place"\?\)/,
  );
  assertRejected(
    VALID_INVENTORY.replace(
      'name: serving-s3 }',
      'name: serving-s3 }\n    consumers: [{ kind: deployment, namespace: web, name: api }]',
    ),
    'zones[1].consumers[0].kind',
    /expected one of Deployment, StatefulSet, DaemonSet, got "deployment" \(did you mean "Deployment"\?\)/,
  );
});

test('policy rules: at least one grant, no bucket in both lists, valid bucket names, outside bucket reserved', () => {
  assertRejected(
    VALID_INVENTORY.replace('readOnly: [landing]', 'readOnly: []'),
    'zones[1].policy',
    /at least one bucket in readWrite or readOnly, or one statement/,
  );
  assertRejected(
    VALID_INVENTORY.replace('readOnly: [landing]', 'readOnly: [landing]\n      readWrite: [landing]'),
    'zones[1].policy.readOnly[0]',
    /"landing" is in both readWrite and readOnly/,
  );
  assertRejected(
    VALID_INVENTORY.replace('readWrite: [landing]', 'readWrite: [Landing]'),
    'zones[0].policy.readWrite[0]',
    /expected an S3 bucket name.*got "Landing"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('readWrite: [landing]', 'readWrite: [rotator-smoke-outside]'),
    'zones[0].policy.readWrite[0]',
    /reserves for checking that access outside the policy is denied/,
  );
  assertRejected(
    VALID_INVENTORY.replace(
      'readOnly: [landing]',
      'readOnly: [landing]\n      statements: [{ Effect: Allow, Resource: "*" }]',
    ),
    'zones[1].policy.statements[0]',
    /exactly one of Action or NotAction/,
  );
});

test('consumers must live in the Secret namespace; store workload in the root Secret namespace', () => {
  assertRejected(
    VALID_INVENTORY.replace(
      'name: serving-s3 }',
      'name: serving-s3 }\n    consumers: [{ kind: Deployment, namespace: data, name: api }]',
    ),
    'zones[1].consumers[0].namespace',
    /expected the Secret's namespace "web" .*got "data"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('namespace: platform, name: rustfs', 'namespace: storage, name: rustfs'),
    'store.workload.namespace',
    /root Secret's namespace "platform"/,
  );
  assertRejected(
    VALID_INVENTORY.replace('name: serving-s3 }', 'name: serving-s3 }\n    consumers: "none"'),
    'zones[1].consumers',
    /expected "auto" .* or a list of \{kind, namespace, name\}.*got "none"/,
  );
});

test('endpoint must be a bare http(s) origin; credentials in the URL are refused', () => {
  assertRejected(
    VALID_INVENTORY.replace('https://rustfs.ns.svc:9000', 'https://admin:pw@rustfs:9000'),
    'store.endpoint',
    /no path, query or credentials/,
  );
  assertRejected(
    VALID_INVENTORY.replace('https://rustfs.ns.svc:9000', 'rustfs:9000'),
    'store.endpoint',
    /http\(s\) URL/,
  );
  assertRejected(
    VALID_INVENTORY.replace('https://rustfs.ns.svc:9000', 'https://rustfs:9000/s3'),
    'store.endpoint',
    /no path/,
  );
});

test('YAML syntax errors carry line and column', async () => {
  // Written at run time: a broken YAML file in the repository would fail `prettier --check`.
  const dir = await mkdtemp(path.join(tmpdir(), 'rotator-inventory-'));
  const file = path.join(dir, 'broken.yaml');
  await writeFile(
    file,
    'store:\n  kind: rustfs\n  endpoint: http://rustfs:9000\n  rootSecret: { namespace: ns, name: root\nzones: []\n',
  );
  await assert.rejects(loadInventory(file), (error: unknown) => {
    assert.ok(error instanceof InventoryError);
    const [issue] = error.issues;
    assert.ok(issue);
    assert.match(issue.message, /^YAML syntax error: Flow map .* end with a \}/);
    assert.equal(issue.line, 5);
    assert.equal(issue.column, 1);
    assert.ok(
      error.message.includes(`${file}:${issue.line}:${issue.column}: YAML syntax error`),
      error.message,
    );
    return true;
  });
  await rm(dir, { recursive: true, force: true });
  const dupKey = issuesOf('store: {}\nstore: {}\n').issues;
  assert.match(dupKey[0]?.message ?? '', /Map keys must be unique/);
  assert.equal(dupKey[0]?.line, 2);
});

test('empty and unreadable files give a clear message', async () => {
  assert.match(issuesOf('').issues[0]?.message ?? '', /the file is empty/);
  assert.match(issuesOf('# only comments\n').issues[0]?.message ?? '', /the file is empty/);
  assert.match(
    issuesOf('- a\n- b\n').issues[0]?.message ?? '',
    /expected a mapping with store and zones, got a list/,
  );
  await assert.rejects(loadInventory('/nonexistent/rotator.yaml'), (error: unknown) => {
    assert.ok(error instanceof InventoryError);
    assert.match(
      error.message,
      /\/nonexistent\/rotator\.yaml.*cannot read the inventory file.*--config or ROTATOR_CONFIG/,
    );
    return true;
  });
});

test('every problem is reported at once, in file order', () => {
  const text = VALID_INVENTORY.replace('kind: rustfs', 'kind: ceph')
    .replace('user: serving-user', 'user: x')
    .replace('readWrite: [landing]', 'readWrite: [Landing]');
  const { error, issues } = issuesOf(text);
  assert.deepEqual(
    issues.map((i) => i.path),
    ['store.kind', 'zones[0].policy.readWrite[0]', 'zones[1].user'],
  );
  assert.match(
    error.message,
    /^Invalid rotator inventory bad\.yaml \(3 problems\):\n {2}- bad\.yaml:3:9: store\.kind: /,
  );
});

test('findZone returns the zone or lists the known ones', async () => {
  const inv = await loadInventory(DASHI);
  assert.equal(findZone(inv, 'serving').user, 'dashi-serving-reader');
  assert.throws(
    () => findZone(inv, 'servng'),
    (error: unknown) => {
      assert.ok(error instanceof UnknownZoneError);
      assert.equal(
        error.message,
        'Unknown zone "servng". Known zones: ingest, pipeline, serving. Did you mean "serving"?',
      );
      assert.deepEqual(error.known, ['ingest', 'pipeline', 'serving']);
      return true;
    },
  );
  assert.throws(
    () => findZone(inv, 'root'),
    /^UnknownZoneError: Unknown zone "root"\. Known zones: ingest, pipeline, serving\.$/,
  );
});

test('workPools: the seed pool on the pipeline zone, none elsewhere; URL, name and uniqueness are checked', async () => {
  const inv = await loadInventory(DASHI);
  assert.deepEqual(
    inv.zones.map((z) => [z.name, z.workPools]),
    [
      ['ingest', []],
      [
        'pipeline',
        [
          {
            api: 'http://prefect-server.dashi-data.svc.cluster.local:4200/api',
            pool: 'dashi-default',
            allowInsecureApi: true,
          },
        ],
      ],
      ['serving', []],
    ],
  );
  const withPools = (pools: string, zone = 'ingest') =>
    VALID_INVENTORY.replace(
      `secret: { namespace: data, name: ${zone}-s3 }`,
      `secret: { namespace: data, name: ${zone}-s3 }\n    workPools: ${pools}`,
    );
  const ok = parseInventory(
    withPools('[{ api: "https://prefect.example/api/", pool: dashi-default }]'),
    'ok.yaml',
  );
  assert.deepEqual(ok.zones[0]!.workPools, [{ api: 'https://prefect.example/api', pool: 'dashi-default' }]);
  // A credential goes to the API in clear over plain http:// unless that is loopback or allowed.
  assertRejected(
    withPools('[{ api: "http://prefect/api", pool: p }]'),
    'zones[0].workPools[0].api',
    /expected https:\/\/ for the Prefect API, got plain http:\/\/ to the non-loopback host prefect.*allowInsecureApi: true/,
  );
  assert.deepEqual(
    parseInventory(withPools('[{ api: "http://prefect/api", pool: p, allowInsecureApi: true }]'), 'ok.yaml')
      .zones[0]!.workPools,
    [{ api: 'http://prefect/api', pool: 'p', allowInsecureApi: true }],
  );
  assert.equal(
    parseInventory(withPools('[{ api: "http://127.0.0.1:4200/api", pool: p }]'), 'ok.yaml').zones[0]!
      .workPools[0]!.api,
    'http://127.0.0.1:4200/api',
  );
  assertRejected(
    withPools('[{ api: "https://user:key@prefect/api", pool: p }]'),
    'zones[0].workPools[0].api',
    /no credentials/,
  );
  assertRejected(
    withPools('[{ api: "https://prefect/api", pool: "a/b" }]'),
    'zones[0].workPools[0].pool',
    /work pool name/,
  );
  assertRejected(
    withPools('[{ api: "https://prefect/api" }]'),
    'zones[0].workPools[0].pool',
    /work pool name/,
  );
  assertRejected(
    withPools('[{ api: "https://prefect/api", pool: p }, { api: "https://prefect/api", pool: p }]'),
    'zones[0].workPools[1]',
    /listed twice/,
  );
  const twoZones = withPools('[{ api: "https://prefect/api", pool: p }]').replace(
    'secret: { namespace: web, name: serving-s3 }',
    'secret: { namespace: web, name: serving-s3 }\n    workPools: [{ api: "https://prefect/api", pool: p }]',
  );
  assertRejected(twoZones, 'zones[1].workPools[0]', /in one zone only.*also in zones\[0\]\.workPools/);
});
