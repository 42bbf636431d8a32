// The main job end to end: `rotator demo` against the shared stack, shortened timings.
// Its payloads are encrypted with the sandbox's codec key, the key of the codec server the
// sandbox's Web UI is pointed at, so a user exploring the UI after the demo reads them.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { type temporal } from '@temporalio/proto';
import { type DemoSummary } from '../../src/cli/demo';
import { json, runCli } from '../support/cli';
import { getStack } from '../support/stack';

const stack = getStack();
// The demo takes its codec key from the sandbox, not from the caller's environment.
const noOwnKey = { ROTATOR_CODEC_KEY: undefined, ROTATOR_CODEC_KEY_ID: undefined };

type RawPayload = temporal.api.common.v1.IPayload;
const meta = (p: RawPayload, k: string) =>
  p.metadata?.[k] ? Buffer.from(p.metadata[k]).toString('utf8') : undefined;

/** Every payload of a run's history the data converter wrote, exactly as the server stores it (no codec). */
async function storedPayloads(workflowId: string): Promise<{ where: string; payload: RawPayload }[]> {
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const client = new Client({ connection, namespace: stack.temporal.namespace });
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const out: { where: string; payload: RawPayload }[] = [];
    const add = (where: string, ps: RawPayload[] | null | undefined) =>
      (ps ?? []).forEach((payload) => out.push({ where, payload }));
    for (const e of history.events ?? []) {
      add('workflow input', e.workflowExecutionStartedEventAttributes?.input?.payloads);
      add('activity input', e.activityTaskScheduledEventAttributes?.input?.payloads);
      add('activity result', e.activityTaskCompletedEventAttributes?.result?.payloads);
      // A local activity's marker: its result is the data converter's; "data" is core's own bookkeeping.
      add('local activity result', e.markerRecordedEventAttributes?.details?.result?.payloads);
      add(
        'update argument',
        e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads,
      );
      add('workflow result', e.workflowExecutionCompletedEventAttributes?.result?.payloads);
    }
    return out;
  } finally {
    await connection.close();
  }
}

/** POST /decode to the sandbox's codec server, as the Web UI does. */
async function codecServerDecode(payloads: RawPayload[]): Promise<unknown[]> {
  const res = await fetch(`${stack.codec.endpoint}/decode`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': stack.temporal.namespace },
    body: JSON.stringify({
      payloads: payloads.map((p) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(p.data ?? []).toString('base64'),
      })),
    }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
  return body.payloads.map((p) => {
    assert.equal(Buffer.from(p.metadata.encoding!, 'base64').toString(), 'json/plain');
    return JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as unknown;
  });
}

describe('rotator demo', () => {
  test('human run (CI=true ends it): bootstrap, zone rotation with a serving consumer, root rotation, summary', async () => {
    const r = await runCli(
      ['demo', '--task-queue', `demo-test-${process.pid}`, '--grace', '1s'],
      { CI: 'true', ...noOwnKey },
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
    assert.match(r.stdout, new RegExp(`^Store: ${stack.store.kind} \\S+`, 'm'));
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
    // The demo's worker serves /metrics on the address the sandbox reserved.
    assert.ok(r.stdout.includes(`Metrics: ${stack.metrics!.url} `), r.stdout);
    assert.match(r.stdout, /ROTATOR_SANDBOX_STATE=\S+ npx tsx src\/cli\.ts history rotate-root/);
    assert.ok(
      r.stdout.includes(
        `Payloads: AES-GCM encrypted (key id ${stack.codec.keyId}); the Web UI decodes them through the codec server ${stack.codec.endpoint}`,
      ),
    );
    assert.ok(!r.stderr.includes('stay up'), 'CI=true ends the demo instead of waiting for Ctrl-C');
  });

  test('--json --exit: the summary as one document', async () => {
    const r = await runCli(
      ['demo', '--exit', '--json', '--task-queue', `demo-test-json-${process.pid}`, '--grace', '0s'],
      noOwnKey,
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
    // The store as RotateRoot's preflight found it; a store that loses IAM reports its window.
    assert.equal(s.store.kind, stack.store.kind);
    assert.notEqual(s.store.version, 'unknown');
    assert.equal(typeof s.store.iamSurvivesRootChange, 'boolean');
    assert.equal(typeof s.root.zoneKeysRefusedMs, s.store.iamSurvivesRootChange ? 'undefined' : 'number');
    assert.equal(s.bootstrap.workflowId, 'bootstrap-cluster');
    assert.deepEqual(
      s.historyCommands.map((c) => c.split(' ').slice(-2).join(' ')),
      ['history rotate-root', 'history rotate-zone-serving', 'status rotate-root'],
    );
    assert.deepEqual(s.payloads, {
      encrypted: true,
      keyId: stack.codec.keyId,
      codecServer: stack.codec.endpoint,
    });
    // The history command it prints works, from another process, with no key but the sandbox's.
    const h = await runCli(['history', 'rotate-root', '--json'], {
      ROTATOR_SANDBOX_STATE: s.sandboxStateFile,
      ...noOwnKey,
    });
    assert.equal(h.code, 0, h.stderr);
    const t = json<{ outcome: string; entries: Array<{ kind: string; by?: string }> }>(h);
    assert.equal(t.outcome, 'completed');
    assert.ok(
      t.entries.some((e) => e.kind === 'update' && e.by === s.root.approvedBy),
      'update argument decoded',
    );

    // In history every payload the worker and the CLI wrote is encrypted with the sandbox key…
    for (const id of ['bootstrap-cluster', 'rotate-zone-serving', 'rotate-root']) {
      const stored = await storedPayloads(id);
      assert.ok(stored.length >= 3, `${id}: ${stored.length} payloads`);
      for (const { where, payload } of stored) {
        assert.equal(meta(payload, 'encoding'), 'binary/encrypted', `${id} ${where} is encrypted`);
        assert.equal(meta(payload, 'encryption-key-id'), stack.codec.keyId, `${id} ${where}: key id`);
      }
    }
    // …and the codec server the Web UI asks decodes them: the root rotation's result names
    // the fingerprints the summary printed, its update carries who approved it.
    const root = await storedPayloads('rotate-root');
    const [result] = await codecServerDecode(
      root.filter((p) => p.where === 'workflow result').map((p) => p.payload),
    );
    assert.equal(
      (result as { root?: { newFingerprint?: string } }).root?.newFingerprint,
      s.root.newFingerprint,
    );
    const [approval] = await codecServerDecode(
      root.filter((p) => p.where === 'update argument').map((p) => p.payload),
    );
    assert.deepEqual(approval, { by: s.root.approvedBy, reason: 'demo' });
  });
});
