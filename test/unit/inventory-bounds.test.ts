// Issue 23, "inputs no client can forge", on the inventory side: every duration and size has
// an upper bound stated in its message, and no Secret the rotator writes for one identity (its
// Secret, its `<secret>-pending` record) may be another identity's. A colliding inventory is
// refused by every reader: the loader, `rotator plan` and the worker at start.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../../src/cli/output';
import { InventoryError, loadInventory, parseInventory, type InventoryIssue } from '../../src/inventory';
import { entryArgs } from '../support/build';
import { SANDBOX_STATE_ENV } from '../../src/sandbox/state';
import { runCli } from '../support/cli';
import { VALID_INVENTORY } from '../support/inventory';

const ROOT = path.join(__dirname, '..', '..');

function issuesOf(text: string): { error: InventoryError; issues: InventoryIssue[] } {
  try {
    parseInventory(text, 'bad.yaml');
  } catch (error) {
    assert.ok(error instanceof InventoryError, `expected InventoryError, got ${String(error)}`);
    return { error, issues: error.issues };
  }
  assert.fail('expected the inventory to be rejected');
}

/** One issue at `at` matching `expected`, located in the file, in the readable message. */
function assertRejected(text: string, at: string, expected: RegExp): InventoryIssue {
  const { error, issues } = issuesOf(text);
  const issue = issues.find((i) => i.path === at);
  assert.ok(issue, `no issue at ${at}; got:\n${error.message}`);
  assert.match(issue.message, expected);
  assert.ok(issue.line !== undefined, `issue at ${at} has no line`);
  assert.ok(error.message.includes(`bad.yaml:${issue.line}:${issue.column}: ${at}: `), error.message);
  return issue;
}

const accepts = (text: string) => assert.doesNotThrow(() => parseInventory(text, 'ok.yaml'));

/** The serving zone's Secret replaced by `ref`. */
const servingSecret = (ref: string) => VALID_INVENTORY.replace('{ namespace: web, name: serving-s3 }', ref);

describe('Secrets that collide', () => {
  test("a zone Secret named like another zone's pending record: refused, naming both zones", async () => {
    assertRejected(
      servingSecret('{ namespace: data, name: ingest-s3-pending }'),
      'zones[1].secret',
      /data\/ingest-s3-pending of zone "serving" is the pending record of zone "ingest" \(data\/ingest-s3 \+ "-pending"\)/,
    );
    // The other way round (the earlier zone takes the later one's pending name) is found too.
    assertRejected(
      VALID_INVENTORY.replace(
        '{ namespace: data, name: ingest-s3 }',
        '{ namespace: web, name: serving-s3-pending }',
      ),
      'zones[0].secret',
      /web\/serving-s3-pending of zone "ingest" is the pending record of zone "serving"/,
    );
    // Same name in another namespace: a different Secret, accepted; so are the shipped inventories.
    accepts(servingSecret('{ namespace: web, name: ingest-s3-pending }'));
    await loadInventory(path.join(ROOT, 'config', 'dashi.yaml'));
    await loadInventory(path.join(ROOT, 'deploy', 'worker', 'compose', 'inventory.yaml'));
  });

  test("the root credential's pending record and the zones' are each other's neither", () => {
    assertRejected(
      servingSecret('{ namespace: platform, name: root-pending }'),
      'zones[1].secret',
      /platform\/root-pending of zone "serving" is the pending record of the root credential \(store\.rootSecret\)/,
    );
    assertRejected(
      VALID_INVENTORY.replace(
        'rootSecret: { namespace: platform, name: root }',
        'rootSecret: { namespace: data, name: ingest-s3-pending }',
      ).replace(
        'workload: { kind: StatefulSet, namespace: platform',
        'workload: { kind: StatefulSet, namespace: data',
      ),
      'store.rootSecret',
      /data\/ingest-s3-pending of the root credential \(store\.rootSecret\) is the pending record of zone "ingest"/,
    );
  });

  test('two identities sharing a Secret: refused, naming both', () => {
    assertRejected(
      servingSecret('{ namespace: data, name: ingest-s3 }'),
      'zones[1].secret',
      /data\/ingest-s3 of zone "serving" is also zones\[0\]\.secret of zone "ingest"/,
    );
    assertRejected(
      servingSecret('{ namespace: platform, name: root }'),
      'zones[1].secret',
      /zone "serving" and the root credential \(store\.rootSecret\) both name it/,
    );
  });
});

describe('upper bounds, stated in the message', () => {
  const durations: Array<[string, string, string, string, RegExp]> = [
    // [what, where to insert, at bound, above, message]
    ['zone maxGrace', 'zones[1].maxGrace', '30d', '3650d', /expected at most 30d \(.*\), got "3650d"/],
    ['zone grace', 'zones[1].grace', '30d', '31d', /expected at most 30d \(.*\), got "31d"/],
    ['defaults maxGrace', 'defaults.maxGrace', '30d', '720h1s', /expected at most 30d/],
    ['store restartTimeout', 'store.restartTimeout', '1h', '61m', /expected at most 1h \(.*\), got "61m"/],
    ['store pauseTimeout', 'store.pauseTimeout', '24h', '2d', /expected at most 24h \(.*\), got "2d"/],
  ];
  const withDuration = (at: string, value: string) => {
    const key = at.split('.').pop()!;
    if (at.startsWith('store.'))
      return VALID_INVENTORY.replace('  rootSecret:', `  ${key}: ${value}\n  rootSecret:`);
    if (at.startsWith('defaults.'))
      return VALID_INVENTORY.replace('zones:', `defaults:\n  ${key}: ${value}\nzones:`);
    // A zone's grace needs a maxGrace at least as long (checked on its own).
    const extra =
      key === 'grace' ? `\n    ${key}: ${value}\n    maxGrace: ${value}` : `\n    ${key}: ${value}`;
    return VALID_INVENTORY.replace('name: serving-s3 }', `name: serving-s3 }${extra}`);
  };
  for (const [what, at, ok, over, message] of durations) {
    test(`${what}: ${ok} accepted, ${over} refused`, () => {
      accepts(withDuration(at, ok));
      const text = withDuration(at, over);
      if (at === 'zones[1].grace') {
        const { issues } = issuesOf(text);
        assert.ok(
          issues.some((i) => i.path === at && message.test(i.message)),
          JSON.stringify(issues),
        );
      } else assertRejected(text, at, message);
    });
  }

  test('lists and strings: zones, consumers, buckets, region, URLs', () => {
    const zones = Array.from(
      { length: 1001 },
      (_, i) =>
        `  - name: z${i}\n    user: user-${i}\n    policy: { readOnly: [landing] }\n    secret: { namespace: data, name: s${i} }`,
    ).join('\n');
    const many = VALID_INVENTORY.slice(0, VALID_INVENTORY.indexOf('zones:')) + `zones:\n${zones}\n`;
    assertRejected(many, 'zones', /expected at most 1000 zones, got a list of 1001/);
    const consumers = Array.from(
      { length: 101 },
      (_, i) => `{ kind: Deployment, namespace: web, name: d${i} }`,
    ).join(', ');
    assertRejected(
      VALID_INVENTORY.replace('name: serving-s3 }', `name: serving-s3 }\n    consumers: [${consumers}]`),
      'zones[1].consumers',
      /expected at most 100 consumers/,
    );
    const buckets = Array.from({ length: 101 }, (_, i) => `b-${i}x`).join(', ');
    assertRejected(
      VALID_INVENTORY.replace('readOnly: [landing]', `readOnly: [${buckets}]`),
      'zones[1].policy.readOnly',
      /expected at most 100 buckets/,
    );
    assertRejected(
      VALID_INVENTORY.replace('  rootSecret:', `  region: ${'r'.repeat(64)}\n  rootSecret:`),
      'store.region',
      /at most 63 characters/,
    );
    assertRejected(
      VALID_INVENTORY.replace('https://rustfs.ns.svc:9000', `https://${'a'.repeat(2048)}.svc:9000`),
      'store.endpoint',
      /at most 2048 characters/,
    );
    // A webhook URL may carry a token: its bound is stated without the value.
    const secretUrl = `https://hooks.example/${'t'.repeat(2100)}`;
    const { error } = issuesOf(
      VALID_INVENTORY.replace('zones:', `notifications:\n  - { name: oncall, url: "${secretUrl}" }\nzones:`),
    );
    assert.match(
      error.message,
      /notifications\[0\]\.url: expected a URL of at most 2048 characters \(value not shown\)/,
    );
    assert.ok(!error.message.includes('tttttttt'), error.message);
  });
});

// The inventory of the collision, as a file, for the CLI and the worker.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inventory-bounds-'));
const colliding = path.join(dir, 'colliding.yaml');
fs.writeFileSync(colliding, servingSecret('{ namespace: data, name: ingest-s3-pending }'));
const NAMES_BOTH = /zone "serving" is the pending record of zone "ingest"/;

describe('a colliding inventory is refused by every reader', () => {
  test('rotator plan BootstrapCluster exits non-zero naming both zones', async () => {
    const run = await runCli(['plan', 'BootstrapCluster', '--config', colliding], {
      ROTATOR_CONFIG: undefined,
      [SANDBOX_STATE_ENV]: undefined,
    });
    assert.equal(run.code, EXIT.usage, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /Invalid rotator inventory/);
    assert.match(run.stderr, NAMES_BOTH);
  });

  test('the worker refuses it at start (EX_CONFIG), naming both zones', async () => {
    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, entryArgs('worker'), {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ROTATOR_CONFIG: colliding,
          KUBECONFIG: kubeconfig,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(
        () => (child.kill('SIGKILL'), reject(new Error(`worker still running:\n${err}`))),
        60_000,
      );
      child.on('exit', (c) => (clearTimeout(timer), resolve({ code: c, stderr: err })));
    });
    assert.equal(code, 78, stderr);
    assert.match(stderr, NAMES_BOTH);
  });
});
