// Benchmarks 4 and 5: scale (bootstrap, then rotate N zones, each with its own consumer
// Deployment) and the peak RSS of the worker, which runs as a separate process
// (bench/worker-process.ts) so /proc/<pid>/status VmHWM is the worker's alone.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type V1Deployment } from '@kubernetes/client-node';
import { deploymentManifest, envConsumer } from '../test/support/kube-fixtures';
import { Client, Connection } from '@temporalio/client';
import { parseDocument } from 'yaml';
import { sandboxInventory } from '../src/sandbox/inventory';
import { ManagedProcess } from '../src/sandbox/process';
import { type SandboxState } from '../src/sandbox/state';
import { AesGcmCodec } from '../src/temporal/codec';
import { dataConverter } from '../src/temporal/data-converter';
import { type WorkflowResult } from '../src/workflows/types';
import { policyName, ZONE_CLIENT_LABEL } from '../src/inventory';
import { createAdminClient } from '../src/rustfs';
import { adminKube, readSecretData } from '../test/support/kube';
import { type BenchContext, budget, historyTimes, log, median, round, sleep } from './lib';
import { WORKER_ENV, WORKER_NODE_FLAGS, WORKER_SCRIPT } from './worker-process';

const ROOT = path.join(__dirname, '..');

/** The name of generated zone i of a run (N zones, run tag). */
const zoneName = (n: number, tag: string, i: number) => `n${n}${tag}-z${i}`;

/**
 * One replica that surges before it goes, reading its zone Secret from the environment. Its
 * pods carry the zone client label, like every consumer of a zone with NetworkPolicies on
 * (config/dashi.yaml): BootstrapCluster refuses policies that would cut an unlabelled one off.
 */
function consumer(namespace: string, name: string, secret: string, zone: string): V1Deployment {
  const d = deploymentManifest(name, { replicas: 1, containers: [envConsumer(secret)] });
  d.metadata = { name, namespace, labels: { app: name } };
  d.spec!.template.metadata!.labels![ZONE_CLIENT_LABEL] = zone;
  d.spec!.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
  return d;
}

/** The sandbox inventory's store section with N generated zones, one bucket and one Deployment each. */
export function scaleInventory(stack: SandboxState, n: number, namespace: string, tag = ''): string {
  const doc = parseDocument(sandboxInventory(stack, { grace: '0s' }));
  const zones = Array.from({ length: n }, (_, i) => ({
    name: zoneName(n, tag, i),
    user: `bench-n${n}${tag}-z${i}`,
    policy: { readWrite: [`bench-n${n}${tag}-b${i}`] },
    secret: { namespace, name: `zone-${i}` },
    consumers: [{ kind: 'Deployment', namespace, name: `consumer-${i}` }],
  }));
  doc.set('zones', doc.createNode(zones));
  return doc.toString();
}

async function forEachLimit<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function createConsumers(
  stack: SandboxState,
  namespace: string,
  n: number,
  tag: string,
): Promise<number> {
  const { core, apps } = adminKube(stack);
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  await forEachLimit(
    Array.from({ length: n }, (_, i) => i),
    8,
    async (i) => {
      await apps
        .createNamespacedDeployment({
          namespace,
          body: consumer(namespace, `consumer-${i}`, `zone-${i}`, zoneName(n, tag, i)),
        })
        .catch((e: { code?: number }) => {
          if (e.code !== 409) throw e;
        });
    },
  );
  const t0 = Date.now();
  const b = budget(`${n} consumer Deployments available`, 180_000);
  for (;;) {
    const list = await apps.listNamespacedDeployment({ namespace });
    const ready = list.items.filter((d) => (d.status?.availableReplicas ?? 0) >= 1).length;
    if (ready >= n) return Date.now() - t0;
    b.check();
    await sleep(500);
  }
}

function readStatus(pid: number): { hwmKb: number; rssKb: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { hwmKb: kb('VmHWM'), rssKb: kb('VmRSS') };
  } catch {
    return undefined;
  }
}

async function startWorkerProcess(stack: SandboxState, inventoryFile: string, dir: string) {
  const key = randomBytes(32);
  const taskQueue = `rotator-bench-${randomBytes(3).toString('hex')}`;
  const readyFile = path.join(dir, 'worker.ready');
  const statsFile = path.join(dir, 'worker.stats.json');
  const proc = new ManagedProcess({
    name: 'bench-worker',
    command: process.execPath,
    // Compiled by `npm run build:bench`, like the production worker: no tsx loader.
    args: [...WORKER_NODE_FLAGS, WORKER_SCRIPT],
    cwd: ROOT,
    env: {
      ...WORKER_ENV,
      BENCH_TEMPORAL_ADDRESS: stack.temporal.address,
      BENCH_TEMPORAL_NAMESPACE: stack.temporal.namespace,
      BENCH_TASK_QUEUE: taskQueue,
      BENCH_INVENTORY: inventoryFile,
      BENCH_KUBECONFIG: stack.kube.kubeconfig,
      BENCH_CODEC_KEY: key.toString('hex'),
      BENCH_READY_FILE: readyFile,
      BENCH_STATS_FILE: statsFile,
    },
    logDir: dir,
  });
  let exited = false;
  proc.start(() => {
    exited = true;
  });
  const b = budget('bench worker start', 60_000);
  while (!fs.existsSync(readyFile)) {
    if (exited) throw new Error(`bench worker exited during start:\n${proc.tail()}`);
    b.check();
    await sleep(100);
  }
  const pid = proc.pid!;
  const codec = new AesGcmCodec(new Map([['bench', key]]), 'bench');
  const samples: number[] = [];
  const sampler = setInterval(() => {
    const s = readStatus(pid);
    if (s) samples.push(s.rssKb);
  }, 250);
  return {
    taskQueue,
    codec,
    pid,
    idle: readStatus(pid),
    peak: () => readStatus(pid),
    maxSampledRssKb: () => Math.max(0, ...samples),
    async stop(): Promise<{ argon2id?: { calls: number; ms: number } }> {
      clearInterval(sampler);
      await proc.stop(10_000);
      try {
        return JSON.parse(fs.readFileSync(statsFile, 'utf8')) as { argon2id?: { calls: number; ms: number } };
      } catch {
        return {};
      }
    },
    tail: () => proc.tail(),
  };
}

/** Activity run time by type, timers and counts over the given workflows' histories: where the time went. */
async function profile(client: Client, ids: string[]) {
  const byType: Record<string, { count: number; runMs: number; totalMs: number }> = {};
  let timersMs = 0;
  let timersConfiguredMs = 0;
  for (const id of ids) {
    const h = await historyTimes(client, id);
    timersMs += h.timersMs;
    timersConfiguredMs += h.timersConfiguredMs;
    for (const [type, ms] of Object.entries(h.activityTotalMs)) {
      const e = (byType[type] ??= { count: 0, runMs: 0, totalMs: 0 });
      e.totalMs += ms;
      e.runMs += h.activityRunMs[type] ?? 0;
      e.count += h.activityCount[type] ?? 0;
    }
  }
  for (const e of Object.values(byType)) {
    e.runMs = round(e.runMs);
    e.totalMs = round(e.totalMs);
  }
  return {
    workflows: ids.length,
    timersMs: round(timersMs),
    timersConfiguredMs: round(timersConfiguredMs),
    activities: byType,
  };
}

async function scaleOnce(
  stack: SandboxState,
  n: number,
  opts: { tag: string; parallelism: number; profile?: boolean },
) {
  const namespace = `bench-n${n}${opts.tag}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rotator-bench-n${n}-`));
  log(`b4 N=${n}${opts.tag}: creating ${n} consumer Deployments`);
  const consumersReadyMs = await createConsumers(stack, namespace, n, opts.tag);
  const inventoryFile = path.join(dir, 'inventory.yaml');
  fs.writeFileSync(inventoryFile, scaleInventory(stack, n, namespace, opts.tag));
  const worker = await startWorkerProcess(stack, inventoryFile, dir);
  const connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({
    connection,
    namespace: stack.temporal.namespace,
    dataConverter: dataConverter(worker.codec),
  });
  const run = async (input: object) => {
    const t0 = performance.now();
    const result = (await client.workflow.execute('BootstrapCluster', {
      taskQueue: worker.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{ ...input, parallelism: opts.parallelism }],
      workflowExecutionTimeout: '15m',
    })) as WorkflowResult;
    if (result.outcome !== 'completed')
      throw new Error(`BootstrapCluster ${JSON.stringify(input)}: ${result.outcome}`);
    return performance.now() - t0;
  };
  try {
    log(`b4 N=${n}${opts.tag}: BootstrapCluster {parallelism: ${opts.parallelism}}`);
    const bootstrapMs = await run({});
    const bootstrapProfile = opts.profile ? await profile(client, ['bootstrap-cluster']) : undefined;
    log(`b4 N=${n}${opts.tag}: BootstrapCluster {rotate: true} (grace 0s)`);
    const rotateMs = await run({ rotate: true });
    const peak = worker.peak();
    const zoneIds = Array.from({ length: n }, (_, i) => `rotate-zone-n${n}${opts.tag}-z${i}`);
    const rotateProfile = opts.profile ? await profile(client, ['bootstrap-cluster', ...zoneIds]) : undefined;
    const stats = await worker.stop();
    const result = {
      n,
      parallelism: opts.parallelism,
      bootstrapMs: round(bootstrapMs),
      rotateMs: round(rotateMs),
      totalMs: round(bootstrapMs + rotateMs),
      perZoneMs: round((bootstrapMs + rotateMs) / n),
      consumersReadyMs,
      worker: {
        idleRssMb: round((worker.idle?.rssKb ?? 0) / 1024, 1),
        peakRssMb: round((peak?.hwmKb ?? worker.maxSampledRssKb()) / 1024, 1),
        maxSampledRssAfterStartMb: round(worker.maxSampledRssKb() / 1024, 1),
        argon2id: stats.argon2id && { calls: stats.argon2id.calls, ms: round(stats.argon2id.ms) },
      },
      profile: opts.profile ? { bootstrap: bootstrapProfile, rotate: rotateProfile } : undefined,
    };
    log(`b4 N=${n}${opts.tag}: ${JSON.stringify({ ...result, profile: undefined })}`);
    return result;
  } catch (err) {
    log(`b4 N=${n}${opts.tag} failed; worker log tail:\n${worker.tail()}`);
    throw err;
  } finally {
    await worker.stop();
    await connection.close();
    fs.rmSync(dir, { recursive: true, force: true });
    await cleanUp(stack, namespace, n, opts.tag);
  }
}

/**
 * Each run has its own namespace, users and policies: remove them afterwards, so that later
 * runs meet neither idle Deployments in the controllers nor a growing IAM in the store.
 */
async function cleanUp(stack: SandboxState, namespace: string, n: number, tag: string): Promise<void> {
  const { core } = adminKube(stack);
  await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  const root = await readSecretData(stack, stack.store.rootSecret.namespace, stack.store.rootSecret.name);
  const admin = createAdminClient({
    endpoint: stack.store.endpoint,
    dialect: 'madmin',
    credentials: { accessKey: root['access-key']!, secretKey: root['secret-key']! },
  });
  await forEachLimit(
    Array.from({ length: n }, (_, i) => i),
    8,
    async (i) => {
      // Removing a user removes its service accounts with it.
      await admin.removeUser(`bench-n${n}${tag}-z${i}`).catch(() => undefined);
      await admin.removeCannedPolicy(policyName(zoneName(n, tag, i))).catch(() => undefined);
    },
  );
}

type ScaleRun = Awaited<ReturnType<typeof scaleOnce>>;

/**
 * Benchmarks 4 and 5: `runs` runs per N (a fresh namespace, inventory and worker process each
 * time), the median per N, and the worker's peak RSS over all of them. The profile (where the
 * time went, from the histories) is kept for the median run of each N.
 */
export async function benchScale(ctx: BenchContext, sizes: number[], parallelism: number) {
  const perN: Array<{ n: number; runs: ScaleRun[]; median: ScaleRun }> = [];
  for (const n of sizes) {
    const runs: ScaleRun[] = [];
    for (let r = 0; r < ctx.runs; r++) {
      log(`b4 N=${n} run ${r + 1}/${ctx.runs}`);
      runs.push(await scaleOnce(ctx.stack, n, { tag: `r${r}`, parallelism, profile: true }));
    }
    const m = median(runs.map((x) => x.totalMs));
    const mid = runs.reduce((a, b) => (Math.abs(b.totalMs - m) < Math.abs(a.totalMs - m) ? b : a));
    perN.push({ n, runs, median: mid });
  }
  const summary = perN.map(({ n, runs, median: mid }) => ({
    n,
    totalMsMedian: median(runs.map((x) => x.totalMs)),
    bootstrapMsMedian: median(runs.map((x) => x.bootstrapMs)),
    rotateMsMedian: median(runs.map((x) => x.rotateMs)),
    perZoneMsMedian: round(median(runs.map((x) => x.perZoneMs))),
    totalMs: runs.map((x) => x.totalMs),
    argon2idCalls: runs.map((x) => x.worker.argon2id?.calls),
    peakRssMb: runs.map((x) => x.worker.peakRssMb),
    profileOfMedianRun: mid.profile,
  }));
  const first = summary[0]!;
  const last = summary.at(-1)!;
  const hundred = summary.find((r) => r.n === 100);
  const growth = {
    // 1.0 = perfectly linear: time per zone stays the same as N grows.
    perZoneRatioLastVsFirst: round(last.perZoneMsMedian / first.perZoneMsMedian, 2),
    nRatio: round(last.n / first.n, 1),
    timeRatio: round(last.totalMsMedian / first.totalMsMedian, 2),
  };
  const all = perN.flatMap((p) => p.runs);
  const peakRssMb = Math.max(...all.map((r) => r.worker.peakRssMb));
  return {
    scale: {
      name: 'scale',
      target: '100 zones (bootstrap + rotate) ≤ 60 s, growth close to linear',
      met: hundred ? hundred.totalMsMedian <= 60_000 && growth.perZoneRatioLastVsFirst <= 1.5 : null,
      parallelism,
      runsPerN: ctx.runs,
      results: summary,
      growth,
    },
    memory: {
      name: 'memory',
      target: 'worker peak RSS ≤ 250 MB across benchmark 4',
      met: peakRssMb <= 250,
      peakRssMb,
      worker: `node ${WORKER_NODE_FLAGS.join(' ')} (compiled, prebuilt workflow bundle), ${Object.entries(
        WORKER_ENV,
      )
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
      perN: summary.map((r) => ({
        n: r.n,
        idleRssMb: perN.find((p) => p.n === r.n)!.runs.map((x) => x.worker.idleRssMb),
        peakRssMb: r.peakRssMb,
      })),
    },
  };
}
