// The rotator worker as a process of its own, so that benchmark 5 measures its memory alone.
// It runs as compiled JavaScript, like the production worker (`npm run build:bench`, then
// WORKER_SCRIPT), with the workflow bundle prebuilt by `npm run build`. Configured through
// the environment:
//   BENCH_TEMPORAL_ADDRESS, BENCH_TEMPORAL_NAMESPACE, BENCH_TASK_QUEUE, BENCH_INVENTORY,
//   BENCH_KUBECONFIG, BENCH_CODEC_KEY (hex, 32 bytes), BENCH_READY_FILE (written once polling),
//   BENCH_STATS_FILE (optional: Argon2id call count/time written there at exit),
//   BENCH_WORKFLOW_BUNDLE (optional: another prebuilt bundle than dist/workflow-bundle.js).
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadInventory } from '../src/inventory';
import { AesGcmCodec } from '../src/temporal/codec';
import { dataConverter } from '../src/temporal/data-converter';
import { buildDeps, createRotatorWorker, storeConnection } from '../src/worker/build';
import { instrumentArgon2 } from './lib';

/** The repository: compiled, this file sits in dist/bench-worker/bench/, else in bench/. */
function repoRoot(dir = __dirname): string {
  if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
  const parent = path.dirname(dir);
  if (parent === dir) throw new Error(`worker-process: no package.json above ${__dirname}`);
  return repoRoot(parent);
}

/** This file as `npm run build:bench` compiles it: what b4-scale.ts starts, with plain node. */
export const WORKER_SCRIPT = path.join(repoRoot(), 'dist', 'bench-worker', 'bench', 'worker-process.js');

/**
 * How b4-scale.ts starts it, as the worker image should run the worker: a capped old space and
 * a small young generation in each V8 isolate (the main thread's, and the workflow thread's),
 * and two malloc arenas for the native threads (Temporal core, libuv) instead of one per
 * thread. At N=10 the peak RSS fell from 298 to 203 MB with the same throughput.
 */
export const WORKER_NODE_FLAGS = ['--max-old-space-size=128', '--max-semi-space-size=2'];
export const WORKER_ENV = { MALLOC_ARENA_MAX: '2' };

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`worker-process: ${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const argon2 = process.env.BENCH_STATS_FILE ? instrumentArgon2() : undefined;
  const workflowBundle =
    process.env.BENCH_WORKFLOW_BUNDLE ?? path.join(repoRoot(), 'dist', 'workflow-bundle.js');
  if (!fs.existsSync(workflowBundle)) {
    throw new Error(`worker-process: no workflow bundle at ${workflowBundle}; run \`npm run build\``);
  }
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const address = env('BENCH_TEMPORAL_ADDRESS');
  const namespace = env('BENCH_TEMPORAL_NAMESPACE');
  const inventory = await loadInventory(env('BENCH_INVENTORY'));
  const codec = new AesGcmCodec(new Map([['bench', Buffer.from(env('BENCH_CODEC_KEY'), 'hex')]]), 'bench');
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace, dataConverter: dataConverter(codec) });
  const deps = buildDeps({
    inventory,
    kube: { kubeconfig: env('BENCH_KUBECONFIG') },
    store: storeConnection(inventory),
    client,
    namespace,
    pollIntervalMs: 200,
  });
  const connection = await NativeConnection.connect({ address });
  const worker = await createRotatorWorker({
    connection,
    namespace,
    taskQueue: env('BENCH_TASK_QUEUE'),
    deps,
    codec,
    workflowBundle,
    extra: { shutdownGraceTime: '2s' },
  });
  const stop = () => worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const running = worker.run();
  fs.writeFileSync(env('BENCH_READY_FILE'), String(process.pid));
  await running;
  if (argon2) fs.writeFileSync(env('BENCH_STATS_FILE'), JSON.stringify({ argon2id: argon2 }));
  await connection.close();
  await clientConnection.close();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`worker-process: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
