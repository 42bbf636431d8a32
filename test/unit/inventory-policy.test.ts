import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  bucketsOf,
  compilePolicy,
  compilePolicyJson,
  evaluatePolicy,
  findZone,
  loadInventory,
  parseInventory,
  policyName,
  smokeMatrix,
  smokePlan,
  type Inventory,
  type SmokeCell,
} from '../../src/inventory';

const DASHI = path.join(__dirname, '..', '..', 'config', 'dashi.yaml');
const RW_BUCKET = ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'];
const RW_OBJECT = [
  's3:AbortMultipartUpload',
  's3:DeleteObject',
  's3:GetObject',
  's3:ListMultipartUploadParts',
  's3:PutObject',
];
const RO_BUCKET = ['s3:GetBucketLocation', 's3:ListBucket'];
const RO_OBJECT = ['s3:GetObject'];

const dashi = (): Promise<Inventory> => loadInventory(DASHI);
const row = (c: SmokeCell): string =>
  `${c.scope} ${c.bucket} ${c.operation}${c.key ? ` ${c.key}` : ''} ${c.expect}`;

function zoneWith(policy: string, extra = ''): Inventory {
  return parseInventory(
    `store:
  kind: rustfs
  endpoint: https://rustfs:9000
  rootSecret: { namespace: p, name: root }
  workload: { kind: StatefulSet, namespace: p, name: rustfs }
zones:
  - name: z
    user: z-user
    secret: { namespace: d, name: z-s3 }
    policy:
${policy
  .split('\n')
  .map((l) => `      ${l}`)
  .join('\n')}
${extra}`,
    'test.yaml',
  );
}

test('policy names are deterministic per zone', async () => {
  const inv = await dashi();
  assert.deepEqual(
    inv.zones.map((z) => policyName(z)),
    ['rotator-ingest', 'rotator-pipeline', 'rotator-serving'],
  );
  assert.equal(policyName('serving'), 'rotator-serving');
});

test('dashi pipeline policy: landing read-only, processed and curated read-write', async () => {
  const doc = compilePolicy(findZone(await dashi(), 'pipeline'));
  assert.deepEqual(doc, {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'RotatorReadWriteBuckets',
        Effect: 'Allow',
        Action: RW_BUCKET,
        Resource: ['arn:aws:s3:::curated', 'arn:aws:s3:::processed'],
      },
      {
        Sid: 'RotatorReadWriteObjects',
        Effect: 'Allow',
        Action: RW_OBJECT,
        Resource: ['arn:aws:s3:::curated/*', 'arn:aws:s3:::processed/*'],
      },
      {
        Sid: 'RotatorReadOnlyBuckets',
        Effect: 'Allow',
        Action: RO_BUCKET,
        Resource: ['arn:aws:s3:::landing'],
      },
      {
        Sid: 'RotatorReadOnlyObjects',
        Effect: 'Allow',
        Action: RO_OBJECT,
        Resource: ['arn:aws:s3:::landing/*'],
      },
    ],
  });
});

test('dashi ingest and serving policies', async () => {
  const inv = await dashi();
  const ingest = compilePolicy(findZone(inv, 'ingest'));
  assert.deepEqual(
    ingest.Statement.map((s) => [s.Sid, s.Resource]),
    [
      ['RotatorReadWriteBuckets', ['arn:aws:s3:::landing']],
      ['RotatorReadWriteObjects', ['arn:aws:s3:::landing/*']],
    ],
  );
  const serving = compilePolicy(findZone(inv, 'serving'));
  assert.deepEqual(
    serving.Statement.map((s) => [s.Sid, s.Action, s.Resource]),
    [
      ['RotatorReadOnlyBuckets', RO_BUCKET, ['arn:aws:s3:::curated', 'arn:aws:s3:::processed']],
      ['RotatorReadOnlyObjects', RO_OBJECT, ['arn:aws:s3:::curated/*', 'arn:aws:s3:::processed/*']],
    ],
  );
  // Read-only must not be able to write or delete anything.
  for (const s of serving.Statement) {
    for (const a of [s.Action ?? []].flat()) assert.ok(!/Put|Delete|Abort/.test(a), a);
  }
});

test('compilation is deterministic, order-insensitive and returns a fresh document', () => {
  const a = zoneWith('readWrite: [b-two, a-one]');
  const b = zoneWith('readWrite: [a-one, b-two]');
  const [za] = a.zones;
  const [zb] = b.zones;
  assert.ok(za && zb);
  assert.equal(compilePolicyJson(za), compilePolicyJson(zb));
  assert.deepEqual(JSON.parse(compilePolicyJson(za)), compilePolicy(za));
  const doc = compilePolicy(za);
  (doc.Statement[0]?.Action as string[]).push('s3:*');
  assert.deepEqual(compilePolicy(za).Statement[0]?.Action, RW_BUCKET);
});

test('raw statements are appended after the compiled ones, unchanged', () => {
  const inv = zoneWith(
    `readOnly: [reports]
statements:
  - Sid: DenyDeletes
    Effect: Deny
    Action: s3:DeleteObject
    Resource: "arn:aws:s3:::reports/*"
  - Effect: Allow
    Action: [s3:PutObject]
    Resource: "arn:aws:s3:::uploads/z/*"`,
  );
  const [zone] = inv.zones;
  assert.ok(zone);
  const doc = compilePolicy(zone);
  assert.equal(doc.Statement.length, 4);
  assert.deepEqual(doc.Statement[2], {
    Sid: 'DenyDeletes',
    Effect: 'Deny',
    Action: 's3:DeleteObject',
    Resource: 'arn:aws:s3:::reports/*',
  });
  assert.deepEqual(doc.Statement[3], {
    Effect: 'Allow',
    Action: ['s3:PutObject'],
    Resource: 'arn:aws:s3:::uploads/z/*',
  });
});

test('statements-only zone compiles to just the statements', () => {
  const [zone] = zoneWith(
    `statements:\n  - { Effect: Allow, Action: "s3:ListAllMyBuckets", Resource: "arn:aws:s3:::*" }`,
  ).zones;
  assert.ok(zone);
  assert.deepEqual(compilePolicy(zone), {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: 'arn:aws:s3:::*' }],
  });
  // ListAllMyBuckets on every bucket ARN grants neither list nor put inside one.
  assert.deepEqual(smokeMatrix(zone).map(row), [
    'outside rotator-smoke-outside list deny',
    'outside rotator-smoke-outside put rotator-smoke/z deny',
  ]);
});

test('smoke matrix, ingest: landing read-write; outside bucket denied', async () => {
  const inv = await dashi();
  const plan = smokePlan(findZone(inv, 'ingest'), inv.smoke);
  assert.equal(plan.policyName, 'rotator-ingest');
  assert.equal(plan.user, 'dashi-ingest');
  assert.deepEqual(plan.rootCanaries, []);
  assert.deepEqual(plan.notCovered, []);
  assert.deepEqual(plan.cells.map(row), [
    'readWrite landing put rotator-smoke/ingest allow',
    'readWrite landing get rotator-smoke/ingest allow',
    'readWrite landing list allow',
    'readWrite landing delete rotator-smoke/ingest allow',
    'outside rotator-smoke-outside list deny',
    'outside rotator-smoke-outside put rotator-smoke/ingest deny',
  ]);
});

test('smoke matrix, pipeline: writes processed and curated, reads landing only', async () => {
  const inv = await dashi();
  const plan = smokePlan(findZone(inv, 'pipeline'), inv.smoke);
  assert.deepEqual(plan.rootCanaries, [{ bucket: 'landing', key: 'rotator-smoke/root-canary' }]);
  assert.deepEqual(plan.cells.map(row), [
    'readWrite curated put rotator-smoke/pipeline allow',
    'readWrite curated get rotator-smoke/pipeline allow',
    'readWrite curated list allow',
    'readWrite curated delete rotator-smoke/pipeline allow',
    'readWrite processed put rotator-smoke/pipeline allow',
    'readWrite processed get rotator-smoke/pipeline allow',
    'readWrite processed list allow',
    'readWrite processed delete rotator-smoke/pipeline allow',
    'readOnly landing list allow',
    'readOnly landing get rotator-smoke/root-canary allow',
    'readOnly landing put rotator-smoke/pipeline deny',
    'readOnly landing delete rotator-smoke/root-canary deny',
    'outside rotator-smoke-outside list deny',
    'outside rotator-smoke-outside put rotator-smoke/pipeline deny',
  ]);
});

test('smoke matrix, serving: reads processed and curated, writes nothing', async () => {
  const inv = await dashi();
  const plan = smokePlan(findZone(inv, 'serving'), inv.smoke);
  assert.deepEqual(plan.rootCanaries, [
    { bucket: 'curated', key: 'rotator-smoke/root-canary' },
    { bucket: 'processed', key: 'rotator-smoke/root-canary' },
  ]);
  assert.deepEqual(plan.cells.map(row), [
    'readOnly curated list allow',
    'readOnly curated get rotator-smoke/root-canary allow',
    'readOnly curated put rotator-smoke/serving deny',
    'readOnly curated delete rotator-smoke/root-canary deny',
    'readOnly processed list allow',
    'readOnly processed get rotator-smoke/root-canary allow',
    'readOnly processed put rotator-smoke/serving deny',
    'readOnly processed delete rotator-smoke/root-canary deny',
    'outside rotator-smoke-outside list deny',
    'outside rotator-smoke-outside put rotator-smoke/serving deny',
  ]);
  assert.ok(
    plan.cells
      .filter((c) => c.expect === 'allow')
      .every((c) => c.operation === 'list' || c.operation === 'get'),
  );
});

test('smoke settings from the inventory change the outside bucket and canary keys', () => {
  const inv = zoneWith(
    'readOnly: [data]',
    'smoke:\n  outsideBucket: nobody-bucket\n  prefix: health/rotator/',
  );
  const [zone] = inv.zones;
  assert.ok(zone);
  const plan = smokePlan(zone, inv.smoke);
  assert.deepEqual(plan.rootCanaries, [{ bucket: 'data', key: 'health/rotator/root-canary' }]);
  assert.deepEqual(plan.cells.slice(-2).map(row), [
    'outside nobody-bucket list deny',
    'outside nobody-bucket put health/rotator/z deny',
  ]);
  assert.deepEqual(bucketsOf(inv), ['data', 'nobody-bucket']);
});

test('raw statements change expectations; conditions make cells not-covered instead of guessed', () => {
  const inv = zoneWith(
    `readWrite: [data]
readOnly: [docs]
statements:
  - { Effect: Deny, Action: "s3:Delete*", Resource: "arn:aws:s3:::data/*" }
  - { Effect: Allow, Action: "s3:PutObject", Resource: "arn:aws:s3:::docs/*", Condition: { IpAddress: { "aws:SourceIp": 10.0.0.0/8 } } }`,
  );
  const [zone] = inv.zones;
  assert.ok(zone);
  const plan = smokePlan(zone, inv.smoke);
  assert.deepEqual(plan.cells.map(row), [
    'readWrite data put rotator-smoke/z allow',
    'readWrite data get rotator-smoke/z allow',
    'readWrite data list allow',
    'readWrite data delete rotator-smoke/z deny',
    'readOnly docs list allow',
    'readOnly docs get rotator-smoke/root-canary allow',
    'readOnly docs delete rotator-smoke/root-canary deny',
    'outside rotator-smoke-outside list deny',
    'outside rotator-smoke-outside put rotator-smoke/z deny',
  ]);
  assert.deepEqual(
    plan.notCovered.map((c) => `${c.bucket} ${c.operation}`),
    ['docs put'],
  );
});

test("a raw Deny on the zone's own writes makes reads target the root canary", () => {
  const [zone] = zoneWith(
    `readWrite: [data]
statements:
  - { Effect: Deny, Action: "s3:PutObject", Resource: "arn:aws:s3:::data/*" }`,
  ).zones;
  assert.ok(zone);
  const plan = smokePlan(zone);
  assert.deepEqual(plan.cells.slice(0, 4).map(row), [
    'readWrite data put rotator-smoke/z deny',
    'readWrite data get rotator-smoke/root-canary allow',
    'readWrite data list allow',
    'readWrite data delete rotator-smoke/root-canary allow',
  ]);
  assert.deepEqual(plan.rootCanaries, [{ bucket: 'data', key: 'rotator-smoke/root-canary' }]);
});

test('evaluatePolicy follows IAM precedence and wildcards', () => {
  const doc = {
    Version: '2012-10-17' as const,
    Statement: [
      { Effect: 'Allow' as const, Action: 's3:*', Resource: 'arn:aws:s3:::logs*' },
      { Effect: 'Deny' as const, Action: 'S3:DELETEOBJECT', Resource: 'arn:aws:s3:::logs/keep/*' },
      { Effect: 'Allow' as const, NotAction: 's3:Put*', Resource: 'arn:aws:s3:::pub/?' },
      { Effect: 'Allow' as const, Action: 's3:GetObject', Resource: 'arn:aws:s3:::home/${aws:username}/*' },
    ],
  };
  assert.equal(evaluatePolicy(doc, 's3:PutObject', 'arn:aws:s3:::logs/a/b'), 'allow');
  assert.equal(evaluatePolicy(doc, 's3:DeleteObject', 'arn:aws:s3:::logs/keep/x'), 'deny');
  assert.equal(evaluatePolicy(doc, 's3:DeleteObject', 'arn:aws:s3:::logs/tmp/x'), 'allow');
  assert.equal(evaluatePolicy(doc, 's3:GetObject', 'arn:aws:s3:::pub/a'), 'allow');
  assert.equal(evaluatePolicy(doc, 's3:GetObject', 'arn:aws:s3:::pub/ab'), 'deny');
  assert.equal(evaluatePolicy(doc, 's3:PutObject', 'arn:aws:s3:::pub/a'), 'deny');
  assert.equal(evaluatePolicy(doc, 's3:GetObject', 'arn:aws:s3:::home/z/f'), 'unknown');
  assert.equal(evaluatePolicy(doc, 's3:GetObject', 'arn:aws:s3:::Logs/x'), 'deny');
});

test('bucketsOf lists every bucket bootstrap must ensure, including the smoke outside bucket', async () => {
  const inv = await dashi();
  assert.deepEqual(bucketsOf(inv), ['curated', 'landing', 'processed', 'rotator-smoke-outside']);
  // Buckets only named in raw statements may be patterns: not created.
  const raw = zoneWith(
    'readWrite: [data]\nstatements: [{ Effect: Allow, Action: "s3:GetObject", Resource: "arn:aws:s3:::shared/*" }]',
  );
  assert.deepEqual(bucketsOf(raw), ['data', 'rotator-smoke-outside']);
  assert.deepEqual(raw.buckets, ['data']);
});
