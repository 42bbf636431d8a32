// The main job end to end: `rotator demo` against the shared stack, shortened timings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type DemoSummary } from '../../src/cli/demo';
import { json, runCli } from '../support/cli';
import { getStack } from '../support/stack';

const stack = getStack();

describe('rotator demo', () => {
  test('human run (CI=true ends it): bootstrap, zone rotation with a serving consumer, root rotation, summary', async () => {
    const r = await runCli(
      ['demo', '--task-queue', `demo-test-${process.pid}`, '--grace', '1s'],
      { CI: 'true' },
      300_000,
    );
    assert.equal(r.code, 0, r.stderr);
    // Progress on stderr, step by step.
    assert.match(r.stderr, /── 1\/3 BootstrapCluster/);
    assert.match(
      r.stderr,
      /── 2\/3 RotateZone serving \(overlap\) while Deployment\/titiler keeps reading processed/,
    );
    assert.match(r.stderr, /✓ promote: patch Secret dashi-serving\/dashi-rustfs-serving/);
    assert.match(r.stderr, /approving as .* \(demo\)/);
    assert.match(r.stderr, /✓ wait for the store with the new root/);
    // The summary on stdout.
    assert.match(r.stdout, /═══ Summary ═══/);
    assert.match(
      r.stdout,
      /zone serving: sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12} \(restarted Deployment\/dashi-serving\/titiler, Deployment\/dashi-serving\/duckdb-endpoint; previous key revoked\)/,
    );
    assert.match(r.stdout, /root:\s+sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12} \(approved by .*\(demo\)\)/);
    assert.match(
      r.stdout,
      /consumer Deployment\/dashi-serving\/titiler during the zone rotation: 0 failed of \d+ requests \(moved to the new key: yes\)/,
    );
    assert.match(r.stdout, /store during the root rotation: .* unavailable/);
    assert.ok(r.stdout.includes(`Web UI: ${stack.temporal.uiUrl}/namespaces/default/workflows`));
    assert.match(r.stdout, /ROTATOR_SANDBOX_STATE=\S+ npx tsx src\/cli\.ts history rotate-root/);
    assert.ok(!r.stderr.includes('stay up'), 'CI=true ends the demo instead of waiting for Ctrl-C');
  });

  test('--json --exit: the summary as one document', async () => {
    const r = await runCli(
      ['demo', '--exit', '--json', '--task-queue', `demo-test-json-${process.pid}`, '--grace', '0s'],
      {},
      300_000,
    );
    assert.equal(r.code, 0, r.stderr);
    const s = json<DemoSummary>(r);
    assert.equal(s.zone.zone, 'serving');
    assert.equal(s.zone.consumer.failures, 0, `consumer errors: ${s.zone.consumer.errors.join(', ')}`);
    assert.ok(
      s.zone.consumer.requests > 10,
      `the consumer kept working (${s.zone.consumer.requests} requests)`,
    );
    assert.ok(s.zone.consumer.credentialsSeen >= 2, 'the consumer moved to the new key');
    assert.notEqual(s.zone.previousFingerprint, s.zone.newFingerprint);
    assert.ok(
      s.root.newFingerprint &&
        s.root.previousFingerprint &&
        s.root.newFingerprint !== s.root.previousFingerprint,
    );
    assert.ok(s.root.storeUnavailableMs >= 0);
    assert.equal(s.bootstrap.workflowId, 'bootstrap-cluster');
    assert.deepEqual(
      s.historyCommands.map((c) => c.split(' ').slice(-2).join(' ')),
      ['history rotate-root', 'history rotate-zone-serving', 'status rotate-root'],
    );
    // The history command it prints works, from another process.
    const h = await runCli(['history', 'rotate-root', '--json'], {
      ROTATOR_SANDBOX_STATE: s.sandboxStateFile,
    });
    assert.equal(h.code, 0, h.stderr);
    assert.equal(json<{ outcome: string }>(h).outcome, 'completed');
  });
});
