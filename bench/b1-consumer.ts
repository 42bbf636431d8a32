// Benchmark 1: consumer-visible failures during RotateZone, overlap vs in-place, same run.
import { type WorkflowResult } from '../src/workflows/types';
import { readSecretData } from '../test/support/kube';
import { type Rotator } from '../test/support/rotator';
import { startLoad, type LoadReport } from './consumer-load';
import { type BenchContext, log, median, round } from './lib';

const ZONE = 'serving';
const NS = 'dashi-serving';
const SECRET = 'dashi-rustfs-serving';
const USER = 'dashi-serving-reader';

async function rotate(rotator: Rotator, strategy: 'overlap' | 'in-place'): Promise<number> {
  const t0 = performance.now();
  const result = (await rotator.client.workflow.execute('RotateZone', {
    taskQueue: rotator.taskQueue,
    workflowId: `rotate-zone-${ZONE}`,
    args: [{ zone: ZONE, strategy, grace: '0s' }],
  })) as WorkflowResult;
  if (result.outcome !== 'completed') throw new Error(`RotateZone ${strategy}: ${result.outcome}`);
  return performance.now() - t0;
}

/** One measured rotation with both consumer models running against titiler (2 replicas). */
async function measured(ctx: BenchContext, rotator: Rotator, strategy: 'overlap' | 'in-place') {
  const common = {
    namespace: NS,
    deployment: 'titiler',
    secret: SECRET,
    bucket: 'processed',
    maxMs: 120_000,
  };
  const loads = [
    startLoad(ctx.stack, { ...common, model: 'pods', intervalMs: 25 }),
    startLoad(ctx.stack, { ...common, model: 'restartedAt', intervalMs: 25 }),
  ];
  // Let the loops settle on the current key before the rotation starts.
  await new Promise((r) => setTimeout(r, 500));
  let wallMs = 0;
  try {
    wallMs = await rotate(rotator, strategy);
  } finally {
    await new Promise((r) => setTimeout(r, 500));
  }
  const [pods, restartedAt] = (await Promise.all(loads.map((l) => l.stop()))) as [LoadReport, LoadReport];
  return { strategy, wallMs: round(wallMs), pods, restartedAt };
}

export async function benchConsumerFailures(ctx: BenchContext, rotator: Rotator) {
  const runs: Array<Awaited<ReturnType<typeof measured>>> = [];
  for (let r = 0; r < ctx.runs; r++) {
    // in-place measured from the in-place state (access-key = user name): the first
    // in-place run only moves the zone off its service account, so it is a primer.
    const cur = await readSecretData(ctx.stack, NS, SECRET);
    if (cur['access-key'] !== USER) {
      log(`b1 run ${r + 1}: priming in-place (zone moves to the user's own key)`);
      await rotate(rotator, 'in-place');
    }
    log(`b1 run ${r + 1}/${ctx.runs}: in-place`);
    runs.push(await measured(ctx, rotator, 'in-place'));
    log(`b1 run ${r + 1}/${ctx.runs}: overlap`);
    runs.push(await measured(ctx, rotator, 'overlap'));
  }
  const side = (strategy: 'overlap' | 'in-place') => {
    const rs = runs.filter((x) => x.strategy === strategy);
    return {
      runs: rs.length,
      // The strict fleet model is the headline; restartedAt is the earliest-switch model.
      failuresMedian: median(rs.map((x) => x.pods.failures)),
      failuresMax: Math.max(...rs.map((x) => x.pods.failures)),
      longestFailureMsMedian: median(rs.map((x) => x.pods.longestFailureMs)),
      requestsMedian: median(rs.map((x) => x.pods.requests)),
      restartedAtModel: {
        failuresMedian: median(rs.map((x) => x.restartedAt.failures)),
        failuresMax: Math.max(...rs.map((x) => x.restartedAt.failures)),
        longestFailureMsMedian: median(rs.map((x) => x.restartedAt.longestFailureMs)),
      },
      wallMsMedian: median(rs.map((x) => x.wallMs)),
    };
  };
  const overlap = side('overlap');
  const inPlace = side('in-place');
  const overlapFailuresAll = runs
    .filter((x) => x.strategy === 'overlap')
    .reduce((a, x) => a + x.pods.failures + x.restartedAt.failures, 0);
  return {
    name: 'consumer',
    target: 'overlap: 0 failed consumer requests',
    met: overlapFailuresAll === 0,
    overlap,
    inPlace,
    runs,
  };
}
