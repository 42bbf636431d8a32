// The worker's /metrics (ROTATOR_METRICS_ADDRESS) against the real stack: src/worker/main.ts as its
// own process (so the SDK runtime and its Prometheus exporter are the worker's), scraped during
// and after real runs, and again after the worker was restarted.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, Connection, type WorkflowFailedError } from '@temporalio/client';
import { freePort } from '../../src/sandbox/ports';
import { AesGcmCodec } from '../../src/temporal/codec';
import { dataConverter } from '../../src/temporal/data-converter';
import { rollbackUpdate, statusQuery } from '../../src/workflows/definitions';
import { collectSecretValues, nodeAgent } from '../support/rotator';
import { eventually } from '../support/kube';
import { getStack } from '../support/stack';
import { entryArgs } from '../support/build';

const stack = getStack();
const ROOT = path.join(__dirname, '..', '..');
const taskQueue = `metrics-${randomBytes(3).toString('hex')}`;
const codecKey = randomBytes(32);
let metricsUrl: string;
let client: Client;
let connection: Connection;
let worker: { child: ChildProcess; logs: () => string; exited: Promise<number | null> } | undefined;

async function startWorkerProcess(address: string) {
  const child = spawn(process.execPath, entryArgs('worker'), {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ROTATOR_CODEC_KEY: codecKey.toString('base64'),
      ROTATOR_METRICS_ADDRESS: address,
      ROTATOR_SHUTDOWN_GRACE: '5s',
      // Each scrape sees the runs as they are now, not a collection up to 5 s old.
      ROTATOR_METRICS_CACHE_TTL: '100ms',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  child.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  await eventually('worker started', async () => logs.includes('"msg":"worker started"'), 90_000, 200);
  return { child, logs: () => logs, exited };
}

async function stopWorkerProcess(): Promise<void> {
  if (!worker) return;
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exited, 0, worker.logs());
  worker = undefined;
}

interface Scrape {
  text: string;
  /** The value of the series with exactly these labels (undefined when absent). */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

async function scrape(): Promise<Scrape> {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => [k!, v!] as const)
      .filter(([, v]) => v !== '')
      .sort();
    series.set(`${m[1]}${JSON.stringify(labels)}`, Number(m[3]));
  }
  return {
    text,
    value: (name, labels = {}) => {
      const want = Object.entries(labels)
        .filter(([, v]) => v !== '')
        .sort();
      return series.get(`${name}${JSON.stringify(want)}`);
    },
  };
}

/** Scrapes until `check` holds (the metrics are computed from visibility, which lags a little). */
async function scrapeUntil(what: string, check: (s: Scrape) => boolean, timeoutMs = 60_000): Promise<Scrape> {
  let last: Scrape | undefined;
  try {
    return await eventually(
      what,
      async () => {
        last = await scrape();
        return check(last) ? last : undefined;
      },
      timeoutMs,
      500,
    );
  } catch (err) {
    const ours = (last?.text ?? '').split('\n').filter((l) => l.startsWith('rustfs_rotator_'));
    throw new Error(`${(err as Error).message}\nlast scrape:\n${ours.join('\n')}`);
  }
}

const agent = nodeAgent(stack);

const zoneCompleted = { workflow: 'RotateZone', zone: 'serving', result: 'completed' };
const rootRolledBack = { workflow: 'RotateRoot', zone: '', result: 'rolled_back' };
const rootPaused = { workflow: 'RotateRoot', zone: '', reason: 'paused' };

describe('worker metrics', () => {
  let zoneClosedAt: number;

  before(async () => {
    metricsUrl = `http://127.0.0.1:${await freePort()}/metrics`;
    worker = await startWorkerProcess(new URL(metricsUrl).host);
    connection = await Connection.connect({ address: stack.temporal.address });
    client = new Client({
      connection,
      namespace: stack.temporal.namespace,
      dataConverter: dataConverter(new AesGcmCodec(new Map([['default', codecKey]]), 'default')),
    });
    await client.workflow.execute('BootstrapCluster', {
      taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
  });

  after(async () => {
    await client?.workflow
      .getHandle('rotate-root')
      .terminate('test cleanup')
      .catch(() => undefined);
    await agent.reset().catch(() => undefined);
    await stopWorkerProcess().catch(() => worker?.child.kill('SIGKILL'));
    await connection?.close();
  });

  test('served at ROTATOR_METRICS_ADDRESS with the SDK worker metrics beside the rotator ones', async () => {
    assert.ok(
      worker!.logs().includes(`"metricsUrl":"${metricsUrl}"`),
      'the worker logs where its metrics are',
    );
    const sdkSeries = (x: Scrape) =>
      x.text.split('\n').filter((l) => /^temporal_[a-z_]+(\{[^}]*\})? \S+$/.test(l));
    const s = await scrapeUntil(
      "the first collection, and the SDK exporter's temporal_ series",
      (x) =>
        x.value('rustfs_rotator_collect_errors', { source: 'temporal' }) === 0 && sdkSeries(x).length > 0,
    );
    assert.match(s.text, /^# TYPE rustfs_rotator_rotations_total counter$/m);
    assert.match(s.text, /^# TYPE rustfs_rotator_rotation_duration_seconds histogram$/m);
    // A fresh task queue: nothing rotated yet, every label set present at 0.
    assert.equal(s.value('rustfs_rotator_rotations_total', zoneCompleted), 0);
    assert.equal(s.value('rustfs_rotator_rotations_total', rootRolledBack), 0);
    assert.equal(s.value('rustfs_rotator_waiting', rootPaused), 0);
    assert.ok(
      (s.value('rustfs_rotator_task_queue_pollers', { type: 'workflow' }) ?? 0) >= 1,
      'this worker polls',
    );
    const notFound = await fetch(metricsUrl.replace(/\/metrics$/, '/other'));
    assert.equal(notFound.status, 404);
  });

  test('a completed RotateZone sets its zone last-success timestamp and counts once', async () => {
    const handle = await client.workflow.start('RotateZone', {
      taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving', grace: '0s' }],
    });
    await handle.result();
    const closeTime = (await handle.describe()).closeTime!;
    zoneClosedAt = closeTime.getTime() / 1000;
    const s = await scrapeUntil(
      'the zone rotation in the metrics',
      (x) => x.value('rustfs_rotator_rotations_total', zoneCompleted) === 1,
    );
    assert.equal(
      s.value('rustfs_rotator_last_success_timestamp_seconds', { target: 'zone/serving' }),
      zoneClosedAt,
    );
    assert.equal(s.value('rustfs_rotator_last_rotation_result', zoneCompleted), 1);
    assert.equal(
      s.value('rustfs_rotator_rotation_duration_seconds_count', {
        workflow: 'RotateZone',
        result: 'completed',
      }),
      1,
    );
    assert.equal(
      s.value('rustfs_rotator_previous_key_valid', { zone: 'serving' }),
      0,
      'the previous key was revoked',
    );
    assert.equal(s.value('rustfs_rotator_rotations_total', { ...zoneCompleted, result: 'failed' }), 0);
    // Other zones were not rotated by this worker's task queue.
    assert.equal(s.value('rustfs_rotator_rotations_total', { ...zoneCompleted, zone: 'ingest' }), 0);
  });

  test('waiting{reason="paused"} is 1 while RotateRoot is paused and 0 after; the rollback counts as rolled_back', async () => {
    // The store stays down past the restart window, until the rollback's restart replaces its pod.
    await agent.hold();
    const handle = await client.workflow.start('RotateRoot', {
      taskQueue,
      workflowId: 'rotate-root',
      args: [{ approve: true, restartTimeout: '3s', pauseTimeout: '10m' }],
    });
    await eventually(
      'RotateRoot paused',
      async () => (await handle.query(statusQuery)).phase === 'paused',
      60_000,
    );
    await agent.held();
    const paused = await scrapeUntil(
      'waiting paused = 1',
      (x) => x.value('rustfs_rotator_waiting', rootPaused) === 1,
    );
    assert.equal(paused.value('rustfs_rotator_waiting', { ...rootPaused, reason: 'approval' }), 0);
    assert.equal(paused.value('rustfs_rotator_rotations_total', rootRolledBack), 0, 'not counted while open');
    await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'e2e-metrics' }] });
    await assert.rejects(
      handle.result(),
      (err: WorkflowFailedError) => (err.cause as { type?: string }).type === 'RolledBack',
    );
    const s = await scrapeUntil(
      'the rollback in the metrics',
      (x) => x.value('rustfs_rotator_rotations_total', rootRolledBack) === 1,
    );
    assert.equal(s.value('rustfs_rotator_waiting', rootPaused), 0);
    assert.equal(s.value('rustfs_rotator_last_rotation_result', rootRolledBack), 1);
    assert.equal(s.value('rustfs_rotator_last_rotation_result', { ...rootRolledBack, result: 'failed' }), 0);
    assert.equal(s.value('rustfs_rotator_rotations_total', { ...rootRolledBack, result: 'failed' }), 0);
    assert.equal(
      s.value('rustfs_rotator_rotation_duration_seconds_count', {
        workflow: 'RotateRoot',
        result: 'rolled_back',
      }),
      1,
    );
    // A rollback is no success, and the annotation its undo wrote on the root Secret is not taken for one.
    assert.equal(s.value('rustfs_rotator_last_success_timestamp_seconds', { target: 'root' }), 0);
  });

  test('after a worker restart the values are the same (they come from Temporal and Kubernetes)', async () => {
    const beforeRestart = await scrape();
    await stopWorkerProcess();
    await assert.rejects(fetch(metricsUrl), 'nothing serves the metrics while no worker runs');
    worker = await startWorkerProcess(new URL(metricsUrl).host);
    const s = await scrapeUntil(
      'the first collection after the restart',
      (x) => x.value('rustfs_rotator_collect_errors', { source: 'temporal' }) === 0,
    );
    for (const [name, labels] of [
      ['rustfs_rotator_rotations_total', zoneCompleted],
      ['rustfs_rotator_rotations_total', rootRolledBack],
      ['rustfs_rotator_last_success_timestamp_seconds', { target: 'zone/serving' }],
      ['rustfs_rotator_last_success_timestamp_seconds', { target: 'root' }],
      ['rustfs_rotator_waiting', rootPaused],
      ['rustfs_rotator_rotation_duration_seconds_count', { workflow: 'RotateRoot', result: 'rolled_back' }],
    ] as const) {
      assert.equal(
        s.value(name, labels),
        beforeRestart.value(name, labels),
        `${name} ${JSON.stringify(labels)}`,
      );
    }
    assert.equal(s.value('rustfs_rotator_rotations_total', zoneCompleted), 1);
    assert.equal(s.value('rustfs_rotator_rotations_total', rootRolledBack), 1);
    assert.equal(
      s.value('rustfs_rotator_last_success_timestamp_seconds', { target: 'zone/serving' }),
      zoneClosedAt,
    );
  });

  test('no secret value appears in the metrics', async () => {
    const secrets = new Set<string>();
    await collectSecretValues(stack, secrets);
    const s = await scrapeUntil(
      'an audit result',
      (x) => x.value('rustfs_rotator_audit_findings', { kind: 'drift' }) !== undefined,
    );
    assert.ok(secrets.size > 0);
    for (const v of secrets) assert.ok(!s.text.includes(v), 'a secret value is in /metrics');
  });
});
