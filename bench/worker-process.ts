// The rotator worker as a process of its own, so that benchmark 5 measures its memory alone.
// Started by bench/b4-scale.ts with `node --import tsx bench/worker-process.ts` and configured
// through the environment:
//   BENCH_TEMPORAL_ADDRESS, BENCH_TEMPORAL_NAMESPACE, BENCH_TASK_QUEUE, BENCH_INVENTORY,
//   BENCH_KUBECONFIG, BENCH_CODEC_KEY (hex, 32 bytes), BENCH_READY_FILE (written once polling),
//   BENCH_STATS_FILE (optional: Argon2id call count/time written there at exit),
//   BENCH_MADMIN_PBKDF2 (optional what-if: request bodies sealed with PBKDF2, not Argon2id),
//   BENCH_WORKFLOW_BUNDLE (optional: a prebuilt workflow bundle instead of bundling at start).
import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadInventory } from '../src/inventory';
import { createAdminClient } from '../src/rustfs';
import { MadminAlgorithm } from '../src/rustfs/madmin-crypto';
import { AesGcmCodec } from '../src/temporal/codec';
import { instrumentArgon2 } from './lib';
import { buildDeps, createRotatorWorker, dataConverter, storeConnection } from '../src/temporal/worker';

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`worker-process: ${name} is not set`);
  return v;
}

async function main(): Promise<void> {
  const argon2 = process.env.BENCH_STATS_FILE ? instrumentArgon2() : undefined;
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
  if (process.env.BENCH_MADMIN_PBKDF2) {
    // What-if: seal request bodies with the envelope's PBKDF2 variant (0x02, which RustFS
    // itself uses) instead of Argon2id. Responses are still decrypted as the server sealed them.
    const store = storeConnection(inventory);
    deps.admin = (credentials) =>
      createAdminClient({
        endpoint: store.endpoint,
        dialect: store.dialect,
        region: store.region,
        credentials,
        madminAlgorithm: MadminAlgorithm.Pbkdf2AesGcm,
      });
  }
  const connection = await NativeConnection.connect({ address });
  const worker = await createRotatorWorker({
    connection,
    namespace,
    taskQueue: env('BENCH_TASK_QUEUE'),
    deps,
    codec,
    extra: {
      shutdownGraceTime: '2s',
      ...(process.env.BENCH_WORKFLOW_BUNDLE
        ? { workflowsPath: undefined, workflowBundle: { codePath: process.env.BENCH_WORKFLOW_BUNDLE } }
        : {}),
    },
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

main().catch((err: unknown) => {
  process.stderr.write(`worker-process: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
