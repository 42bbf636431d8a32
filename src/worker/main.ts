#!/usr/bin/env node
// The rotator worker process: configuration from the environment and the inventory
// (config.ts), one Temporal worker running the three workflows and their
// activities, JSON logs, and a graceful drain on SIGTERM/SIGINT: no new tasks are taken,
// in-flight activities get ROTATOR_SHUTDOWN_GRACE to finish (long waits heartbeat, so a
// cut-off one is retried on another worker), then the process exits 0.
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { dataConverter } from '../temporal/data-converter';
import { buildDeps, createRotatorWorker, prebuiltWorkflowBundle, storeConnection } from './build';
import { MetricsCollector } from '../metrics/collect';
import { rotatorRegistry, startMetricsServer, type MetricsServer } from '../metrics/server';
import { freePort } from '../sandbox/ports';
import { describeConfig, loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './config';
import { jsonLogger, sdkLogger, type JsonLogger } from './log';

export { loadWorkerConfig, WorkerConfigError, type WorkerConfig } from './config';

export interface RunningWorker {
  worker: Worker;
  client: Client;
  config: WorkerConfig;
  /** Where /metrics is served (ROTATOR_METRICS_ADDRESS); undefined when off. */
  metricsUrl?: string;
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  done: Promise<void>;
  /** Stops polling, lets in-flight activities finish within the grace time, closes connections. */
  shutdown(): Promise<void>;
}

let runtime: Promise<{ sdkMetricsUrl?: string }> | undefined;
/**
 * The SDK runtime is a per-process singleton; signals are handled here, not by the SDK. With
 * metrics on, its Prometheus exporter serves the SDK's worker metrics on a loopback port of its
 * own, which the worker's /metrics passes through.
 */
function installRuntime(config: WorkerConfig): Promise<{ sdkMetricsUrl?: string }> {
  runtime ??= (async () => {
    const sdkAddress = config.metricsAddress ? `127.0.0.1:${await freePort()}` : undefined;
    try {
      Runtime.install({
        logger: sdkLogger(config.logLevel === 'info' ? 'warn' : config.logLevel),
        shutdownSignals: [],
        telemetryOptions: {
          // Core's own warnings (e.g. a workflow task over 5 s) go through the logger above, as
          // JSON on stderr, not Core's default console output on stdout (CLI --json reads it).
          logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } },
          ...(sdkAddress && {
            metrics: {
              prometheus: {
                bindAddress: sdkAddress,
                countersTotalSuffix: true,
                unitSuffix: true,
                useSecondsForDurations: true,
              },
            },
          }),
        },
      });
      return { sdkMetricsUrl: sdkAddress && `http://${sdkAddress}/metrics` };
    } catch {
      // Already installed by the embedding process (a test or the demo): keep its runtime.
      return {};
    }
  })();
  return runtime;
}

/** The worker's /metrics, when configured; a sandbox's address already in use only disables it. */
async function serveMetrics(
  config: WorkerConfig,
  deps: ReturnType<typeof buildDeps>,
  client: Client,
  sdkMetricsUrl: string | undefined,
  log: JsonLogger,
): Promise<MetricsServer | undefined> {
  if (!config.metricsAddress) return undefined;
  const collector = new MetricsCollector({
    client,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    inventory: config.inventory,
    kube: deps.kube,
    prefect: deps.prefect,
    adminEndpoint: config.storeAdminEndpoint ?? config.inventory.store.adminEndpoint,
    ttlMs: config.metricsCacheTtlMs,
    onError: (source, err) =>
      log.warn('metrics: collecting failed', { source, error: (err as Error).message }),
  });
  try {
    return await startMetricsServer({
      address: config.metricsAddress,
      metrics: rotatorRegistry(collector),
      sdkUrl: sdkMetricsUrl,
      onError: (err) => log.warn('metrics: scrape failed', { error: (err as Error).message }),
    });
  } catch (err) {
    const message = `cannot serve metrics on ${config.metricsAddress}: ${(err as Error).message}`;
    if (!config.metricsFromSandbox) throw new Error(`${message} (ROTATOR_METRICS_ADDRESS)`);
    log.warn(`${message}; another worker of this sandbox serves them: this one runs without`);
    return undefined;
  }
}

function connectionOptions(config: WorkerConfig) {
  return {
    address: config.temporal.address,
    tls: config.temporal.tls,
    apiKey: config.temporal.apiKey,
    metadata: config.temporal.grpcMeta,
  };
}

/** Connects to Temporal and starts polling; returns once the worker is running. */
export async function startWorker(
  config: WorkerConfig,
  opts: {
    log?: JsonLogger;
    identity?: string;
    /** A bundle made by writeWorkflowBundle; by default the build's own, if it made one. */
    workflowBundle?: string;
    /** How often long waits poll (ActivityDeps.pollIntervalMs); an embedding test shortens it. */
    pollIntervalMs?: number;
  } = {},
): Promise<RunningWorker> {
  const log = opts.log ?? jsonLogger(config.logLevel);
  const { sdkMetricsUrl } = await installRuntime(config);
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
    pollIntervalMs: opts.pollIntervalMs,
  });
  const metrics = await serveMetrics(config, deps, client, sdkMetricsUrl, log);
  const workflowBundle = opts.workflowBundle ?? prebuiltWorkflowBundle();
  const worker = await createRotatorWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    deps,
    codec: config.codec,
    workflowBundle,
    extra: { identity, shutdownGraceTime: config.shutdownGraceMs },
  }).catch(async (err: unknown) => {
    await metrics?.close();
    throw err;
  });
  log.info('worker started', {
    identity,
    workflows: workflowBundle ? 'prebuilt bundle' : 'bundled at start',
    metricsUrl: metrics?.url,
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
      await metrics?.close();
      await connection.close().catch(() => undefined);
      await clientConnection.close().catch(() => undefined);
    })();
    return closing;
  };
  return { worker, client, config, metricsUrl: metrics?.url, done, shutdown };
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
