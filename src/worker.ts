#!/usr/bin/env node
// The rotator worker process: configuration from the environment and the inventory
// (src/worker/config.ts), one Temporal worker running the three workflows and their
// activities, JSON logs, and a graceful drain on SIGTERM/SIGINT: no new tasks are taken,
// in-flight activities get ROTATOR_SHUTDOWN_GRACE to finish (long waits heartbeat, so a
// cut-off one is retried on another worker), then the process exits 0.
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import {
  buildDeps,
  createRotatorWorker,
  dataConverter,
  prebuiltWorkflowBundle,
  storeConnection,
} from './temporal/worker';
import { describeConfig, loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './worker/config';
import { jsonLogger, sdkLogger, type JsonLogger } from './worker/log';

export { loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './worker/config';

export interface RunningWorker {
  worker: Worker;
  client: Client;
  config: WorkerConfig;
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  done: Promise<void>;
  /** Stops polling, lets in-flight activities finish within the grace time, closes connections. */
  shutdown(): Promise<void>;
}

let runtimeInstalled = false;
/** The SDK runtime is a per-process singleton; signals are handled here, not by the SDK. */
function installRuntime(config: WorkerConfig): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({
      logger: sdkLogger(config.logLevel === 'info' ? 'warn' : config.logLevel),
      shutdownSignals: [],
    });
  } catch {
    // Already installed by the embedding process (a test or the demo): keep its runtime.
  }
}

function connectionOptions(config: WorkerConfig) {
  return {
    address: config.temporal.address,
    tls: config.temporal.tls ?? (config.temporal.apiKey ? true : undefined),
    apiKey: config.temporal.apiKey,
  };
}

/** Connects to Temporal and starts polling; returns once the worker is running. */
export async function startWorker(
  config: WorkerConfig,
  opts: { log?: JsonLogger; identity?: string } = {},
): Promise<RunningWorker> {
  const log = opts.log ?? jsonLogger(config.logLevel);
  installRuntime(config);
  const identity = opts.identity ?? `rotator-worker:${process.pid}@${os.hostname()}`;
  let clientConnection: Connection;
  let connection: NativeConnection;
  try {
    clientConnection = await Connection.connect({ ...connectionOptions(config), connectTimeout: '10s' });
    connection = await NativeConnection.connect(connectionOptions(config));
  } catch (err) {
    throw new Error(
      `cannot connect to Temporal at ${config.temporal.address} (namespace ${config.temporal.namespace}): ${(err as Error).message}. ` +
        'Check TEMPORAL_ADDRESS, and TEMPORAL_API_KEY or TEMPORAL_TLS_CERT/KEY for Temporal Cloud.',
    );
  }
  const client = new Client({
    connection: clientConnection,
    namespace: config.temporal.namespace,
    dataConverter: dataConverter(config.codec),
    identity,
  });
  const deps = buildDeps({
    inventory: config.inventory,
    kube: config.kube,
    store: storeConnection(config.inventory, config.storeAdminEndpoint),
    client,
    namespace: config.temporal.namespace,
    prefect: config.prefect,
    webUiUrl: config.webUiUrl,
  });
  const workflowBundle = prebuiltWorkflowBundle();
  const worker = await createRotatorWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    deps,
    codec: config.codec,
    workflowBundle,
    extra: { identity, shutdownGraceTime: config.shutdownGraceMs },
  });
  log.info('worker started', {
    identity,
    workflows: workflowBundle ? 'prebuilt bundle' : 'bundled at start',
    ...describeConfig(config),
  });
  const done = worker.run().then(
    () => log.info('worker stopped'),
    (err: unknown) => {
      log.error('worker failed', { error: (err as Error).message });
      throw err;
    },
  );
  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= (async () => {
      if (worker.getState() === 'RUNNING') {
        log.info('draining: no new tasks; in-flight activities get the grace time', {
          graceMs: config.shutdownGraceMs,
        });
        worker.shutdown();
      }
      await done.catch(() => undefined);
      await connection.close().catch(() => undefined);
      await clientConnection.close().catch(() => undefined);
    })();
    return closing;
  };
  return { worker, client, config, done, shutdown };
}

/** Runs the worker until SIGTERM/SIGINT, then drains it. Resolves when it has stopped. */
export async function runWorker(
  config: WorkerConfig,
  log: JsonLogger = jsonLogger(config.logLevel),
): Promise<void> {
  const running = await startWorker(config, { log });
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('signal received, shutting down', { signal });
    void running.shutdown();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await running.done;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await running.shutdown();
  }
}

async function main(): Promise<void> {
  const bootLog = jsonLogger('info');
  try {
    const config = await loadWorkerConfig(process.env);
    await runWorker(config, jsonLogger(config.logLevel));
  } catch (err) {
    if (err instanceof WorkerConfigError) {
      bootLog.error('invalid configuration', { problems: err.problems });
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 78; // EX_CONFIG
    } else {
      bootLog.error('worker failed', { error: (err as Error).message });
      process.exitCode = 1;
    }
  }
}

if (require.main === module) void main();
