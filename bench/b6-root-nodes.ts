// Benchmark 6: root rotation on the 4-node store (issue 25 point 5). For each strategy, a
// consumer of zone serving reads through the store's Service (the sandbox's load balancer) with
// its zone key every 50 ms, one connection per request, and admin probes ask the Service with the
// root the Secret holds (and with any root seen): failed consumer requests, the longest window in
// which the consumer was refused (the store unavailable to it), the admin API's window, and the
// rotation's wall time. A strategy the store refuses (MinIO and alpha.85 never roll) is recorded
// with its refusal, not measured. Benchmark 2 gives the single-node figures of the same release.
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { startConsumerLoop } from '../src/sandbox/consumer-probe';
import { statusQuery } from '../src/workflows/definitions';
import { type WorkflowResult } from '../src/workflows/types';
import { type Rotator } from '../test/support/rotator';
import { startProbes } from './b2-root';
import { type BenchContext, log, median, round, sleep } from './lib';

const STRATEGIES = ['rolling', 'all-at-once'] as const;

async function rotateOnce(
  ctx: BenchContext,
  rotator: Rotator,
  strategy: (typeof STRATEGIES)[number],
  run: number,
) {
  const consumer = startConsumerLoop(ctx.stack, {
    namespace: 'dashi-serving',
    secret: 'dashi-rustfs-serving',
    deployment: 'titiler',
    bucket: 'curated',
    intervalMs: 50,
  });
  const probes = startProbes(ctx.stack, ctx.stack.store.endpoint, undefined, 600_000);
  await sleep(500);
  const t0 = performance.now();
  const handle = await rotator.client.workflow.start('RotateRoot', {
    taskQueue: rotator.taskQueue,
    workflowId: `rotate-root-nodes-${strategy}-${run}`,
    args: [{ approve: true, strategy, restartTimeout: '3m' }],
  });
  const outcome = await handle.result().then(
    (r) => r as WorkflowResult,
    (err: unknown) => {
      if (err instanceof WorkflowFailedError && (err.cause as { type?: string }).type === 'TopologyRefused')
        return { refused: err.cause!.message };
      throw err;
    },
  );
  const wallMs = performance.now() - t0;
  await sleep(500);
  const seen = await consumer.stop();
  const admin = await probes.stop();
  if ('refused' in outcome) return { strategy, refused: outcome.refused };
  // How long each wait of the run took (rolling: per pod), from its status.
  const waits = (await handle.query(statusQuery)).steps
    .filter((s) => s.name.startsWith('wait for') || s.name.startsWith('check every'))
    .map((s) => ({
      step: s.name.replace(/ \(window.*$/, ''),
      ms: Date.parse(s.endedAt ?? '') - Date.parse(s.startedAt),
    }));
  if (outcome.outcome !== 'completed') throw new Error(`RotateRoot ${strategy}: ${outcome.outcome}`);
  return {
    strategy,
    consumerRequests: seen.requests,
    consumerFailures: seen.failures,
    consumerLongestFailureMs: seen.longestFailureMs,
    consumerErrors: seen.errors,
    adminWindowMs: admin.secret.longestFailureMs,
    anyRootWindowMs: admin.anyRoot.longestFailureMs,
    storeDowntimeMsReported: outcome.root?.storeDowntimeMs,
    rollMsReported: outcome.root?.rollMs,
    wallMs: round(wallMs),
    waits,
  };
}

export async function benchRootNodes(ctx: BenchContext, rotator: Rotator) {
  const nodes = ctx.stack.store.nodes?.length ?? 1;
  if (nodes < 2) throw new Error('benchmark 6 needs the multi-node sandbox (run with --only nodes)');
  const out: Record<string, unknown> = {
    name: 'nodes',
    store: `${ctx.stack.store.kind}${process.env.ROTATOR_STORE_BIN ? ` (${path.basename(path.dirname(process.env.ROTATOR_STORE_BIN))})` : ''}, ${nodes} nodes`,
    target: 'rolling: 0 failed consumer requests',
  };
  for (const strategy of STRATEGIES) {
    const runs = [];
    for (let r = 0; r < ctx.runs; r++) {
      log(`b6 ${strategy} run ${r + 1}/${ctx.runs}`);
      const one = await rotateOnce(ctx, rotator, strategy, r);
      runs.push(one);
      if ('refused' in one) break;
    }
    const measured = runs.filter((x): x is Extract<typeof x, { wallMs: number }> => 'wallMs' in x);
    const m = (
      k: 'consumerFailures' | 'consumerLongestFailureMs' | 'adminWindowMs' | 'anyRootWindowMs' | 'wallMs',
    ) => (measured.length ? median(measured.map((x) => x[k])) : undefined);
    out[strategy] = {
      refused: runs.find((x) => 'refused' in x)?.refused,
      consumerFailuresMedian: m('consumerFailures'),
      consumerFailuresMax: measured.length ? Math.max(...measured.map((x) => x.consumerFailures)) : undefined,
      consumerLongestFailureMsMedian: m('consumerLongestFailureMs'),
      adminWindowMsMedian: m('adminWindowMs'),
      anyRootWindowMsMedian: m('anyRootWindowMs'),
      wallMsMedian: m('wallMs'),
      runs,
    };
  }
  const rolling = out.rolling as { consumerFailuresMax?: number; refused?: string };
  out.met = rolling.refused ? undefined : rolling.consumerFailuresMax === 0;
  return out;
}
