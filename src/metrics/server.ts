// The worker's /metrics endpoint (ROTATOR_METRICS_ADDRESS): the rotator's metrics, computed at
// scrape time from Temporal and Kubernetes (collect.ts, model.ts), followed by the Temporal
// SDK's own worker metrics, which the SDK runtime's Prometheus exporter serves on a loopback
// port of its own and which are passed through here unchanged.
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type MetricsCollector, type SourceErrors } from './collect';
import * as model from './model';

const PREFIX = 'rustfs_rotator_';
/** From a few seconds (a zone with grace 0) to days (a long grace wait, a root paused over a weekend). */
export const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 259200];

type Metric = Gauge<string> | Counter<string>;
type Source = keyof SourceErrors;

export interface RotatorRegistry {
  registry: Registry;
  /** Takes the snapshot the next registry.metrics() reports (prom-client collects the metrics concurrently). */
  refresh(): Promise<void>;
}

/** The rotator's metrics in a registry of their own; every value is set from one snapshot per scrape. */
export function rotatorRegistry(collector: MetricsCollector): RotatorRegistry {
  const registry = new Registry();
  let snap: model.Snapshot | undefined;
  // A metric whose source failed is left out rather than reported from missing facts: a
  // Temporal outage must not read as counters falling to 0 or as "never rotated".
  const unknown = (needs: Source[]) => !snap || needs.some((n) => collector.errors[n]);
  const from = (fn: (s: model.Snapshot) => model.Sample[], needs: Source[]) =>
    function (this: Metric) {
      this.reset();
      if (unknown(needs) || !snap) return;
      for (const { labels, value } of fn(snap)) {
        if (this instanceof Counter) this.inc(labels, value);
        else this.set(labels, value);
      }
    };
  const gauge = (
    name: string,
    help: string,
    labelNames: string[],
    fn: (s: model.Snapshot) => model.Sample[],
    needs: Source[] = ['temporal'],
  ) => new Gauge({ name: PREFIX + name, help, labelNames, registers: [registry], collect: from(fn, needs) });
  const counter = (
    name: string,
    help: string,
    labelNames: string[],
    fn: (s: model.Snapshot) => model.Sample[],
    needs: Source[] = ['temporal'],
  ) =>
    new Counter({ name: PREFIX + name, help, labelNames, registers: [registry], collect: from(fn, needs) });

  new Gauge({
    name: PREFIX + 'collect_errors',
    help: 'Whether the last collection from a source (temporal, kubernetes, audit) failed: its metrics are then missing or stale',
    labelNames: ['source'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [source, failed] of Object.entries(collector.errors as SourceErrors))
        this.set({ source }, failed ? 1 : 0);
    },
  });
  counter(
    'rotations_total',
    'Rotation runs that ended, by how (closed runs within the Temporal namespace retention; dry runs and continued-as-new runs not counted)',
    ['workflow', 'zone', 'result'],
    model.rotationsTotal,
  );
  gauge(
    'last_rotation_result',
    'How the latest run of each workflow and zone ended: 1 for its result, 0 for the others',
    ['workflow', 'zone', 'result'],
    model.lastRotationResult,
  );
  gauge(
    'last_success_timestamp_seconds',
    "When the target (zone/<zone> or root) last completed a rotation (Unix seconds); without a run in the retention, the Secret's rotated-at annotation; 0 when unknown",
    ['target'],
    model.lastSuccess,
    ['temporal', 'kubernetes'],
  );
  new Histogram({
    name: PREFIX + 'rotation_duration_seconds',
    help: 'Duration of rotation runs that ended, from the first run of a continue-as-new chain to the close',
    labelNames: ['workflow', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
    collect() {
      this.reset();
      if (unknown(['temporal']) || !snap) return;
      for (const { labels, seconds } of model.rotationDurations(snap)) this.observe(labels, seconds);
    },
  });
  gauge(
    'waiting',
    'Open runs waiting: for approval or while paused (RotateRoot), out the grace period (RotateZone)',
    ['workflow', 'zone', 'reason'],
    model.waiting,
  );
  gauge(
    'retrying_steps',
    'Steps of open runs that keep failing and are retried within their budget, by kind (quick, smoke, wait, pastSwitch, compensation) and whether people were told (escalated)',
    ['workflow', 'zone', 'kind', 'escalated'],
    (s) => model.retrying(s, 'steps'),
  );
  gauge(
    'retry_attempts',
    'Failed attempts so far of the steps open runs are retrying',
    ['workflow', 'zone', 'kind', 'escalated'],
    (s) => model.retrying(s, 'attempts'),
  );
  gauge(
    'previous_key_valid',
    "1 while the zone's pending record exists: two keys of the zone are valid (a rotation in progress, or one whose undo did not finish)",
    ['zone'],
    model.previousKeyValid,
    ['kubernetes'],
  );
  counter(
    'smoke_cell_failures_total',
    'Policy smoke cells that failed, in closed runs within the retention',
    ['zone'],
    model.smokeCellFailures,
  );
  gauge(
    'audit_findings',
    'Findings of the last audit (rotator audit), by kind',
    ['kind'],
    model.auditFindings,
  );
  gauge(
    'schedule_paused',
    "1 when a schedule of the rotator's workflows on this task queue is paused",
    ['schedule', 'workflow'],
    model.schedulePaused,
  );
  gauge(
    'rotation_interval_seconds',
    'Longest gap between the scheduled rotations of a target (the shortest among its schedules); absent when no schedule rotates it',
    ['target'],
    model.rotationInterval,
  );
  gauge(
    'task_queue_pollers',
    "Pollers the Temporal server saw recently on the worker's task queue",
    ['type'],
    model.taskQueuePollers,
  );
  return {
    registry,
    refresh: async () => {
      const s = await collector.snapshot();
      // The first scrape after a start waits briefly for the audit rather than omitting it.
      await collector.auditSettled(3000);
      snap = { ...s, audit: collector.auditFindings() };
    },
  };
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics on `address` (host:port): the rotator's registry, then the SDK
 * exporter's text from `sdkUrl` when there is one (a failure there leaves the rotator's part).
 */
export async function startMetricsServer(opts: {
  address: string;
  metrics: RotatorRegistry;
  sdkUrl?: string;
  onError?: (err: unknown) => void;
}): Promise<MetricsServer> {
  const sep = opts.address.lastIndexOf(':');
  const host = opts.address.slice(0, sep).replace(/^\[|\]$/g, '');
  const port = Number(opts.address.slice(sep + 1));
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
      return;
    }
    void (async () => {
      try {
        await opts.metrics.refresh();
        const own = await opts.metrics.registry.metrics();
        let sdk = '';
        if (opts.sdkUrl) {
          sdk = await fetch(opts.sdkUrl, { signal: AbortSignal.timeout(5000) })
            .then((r) => (r.ok ? r.text() : ''))
            .catch((err: unknown) => (opts.onError?.(err), ''));
        }
        res.writeHead(200, { 'content-type': opts.metrics.registry.contentType });
        res.end(sdk ? `${own.trimEnd()}\n${sdk}` : own);
      } catch (err) {
        opts.onError?.(err);
        res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting the metrics failed\n');
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shown = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : shown}:${bound.port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
