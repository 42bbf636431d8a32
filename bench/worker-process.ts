// The rotator worker as a process of its own, so that benchmark 5 measures its memory alone.
// Started by bench/b4-scale.ts with `node --import tsx bench/worker-process.ts` and configured
// through the environment:
//   BENCH_TEMPORAL_ADDRESS, BENCH_TEMPORAL_NAMESPACE, BENCH_TASK_QUEUE, BENCH_INVENTORY,
//   BENCH_KUBECONFIG, BENCH_CODEC_KEY (hex, 32 bytes), BENCH_READY_FILE (written once polling).
import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadInventory } from '../src/inventory';
import { AesGcmCodec } from '../src/temporal/codec';
import { buildDeps, createRotatorWorker, dataConverter, storeConnection } from '../src/temporal/worker';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`worker-process: ${name} is not set`);
  return v;
}

async function main(): Promise<void> {
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
    extra: { shutdownGraceTime: '2s' },
  });
  const stop = () => worker.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const running = worker.run();
  fs.writeFileSync(env('BENCH_READY_FILE'), String(process.pid));
  await running;
  await connection.close();
  await clientConnection.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`worker-process: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
