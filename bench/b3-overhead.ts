// Benchmark 3: orchestration overhead. RotateZone (grace 0s) against the same sequence of
// admin and Kubernetes calls made directly from this script, in the same run, alternating.
// Configured waits are excluded from both sides: timers (the pod-holder poll) and the
// rollout wait itself (scheduled → completed from the history; the direct script's own
// measured wait, both from the restart to the end of the wait).
import { NativeConnection, Worker } from '@temporalio/worker';
import { createKubernetesActivities } from '../src/activities/kubernetes';
import { createSmokeActivities } from '../src/activities/smoke';
import { createStoreActivities } from '../src/activities/store';
import { waitForRollout } from '../src/kube';
import { dataConverter } from '../src/temporal/data-converter';
import { type WorkflowResult } from '../src/workflows/types';
import { type Rotator } from '../test/support/rotator';
import * as floorActivities from './floor/activities';
import { type BenchContext, historyTimes, instrumentArgon2, log, median, round, sleep } from './lib';

const ROLLOUT_TIMEOUT_MS = 10 * 60_000;
const POD_POLL_START_MS = 15_000;

const argon2 = instrumentArgon2();
const argon2Since = () => {
  const start = { ...argon2 };
  return () => ({ calls: argon2.calls - start.calls, ms: round(argon2.ms - start.ms) });
};

async function viaWorkflow(rotator: Rotator, zone: string) {
  const id = `rotate-zone-${zone}`;
  const a2 = argon2Since();
  const t0 = performance.now();
  const result = (await rotator.client.workflow.execute('RotateZone', {
    taskQueue: rotator.taskQueue,
    workflowId: id,
    args: [{ zone, grace: '0s' }],
  })) as WorkflowResult;
  const wallMs = performance.now() - t0;
  const argon2id = a2();
  if (result.outcome !== 'completed') throw new Error(`RotateZone ${zone}: ${result.outcome}`);
  const h = await historyTimes(rotator.client, id);
  // From scheduling the wait to its end, as the script times it from the restart: the rollout
  // runs from the restart on, whenever the activity itself gets to start.
  const rolloutMs = h.activityTotalMs.waitForRollouts ?? 0;
  return {
    wallMs: round(wallMs),
    timersMs: round(h.timersMs),
    timersConfiguredMs: round(h.timersConfiguredMs),
    timers: h.timers,
    rolloutMs: round(rolloutMs),
    // Only what the workflow asked to wait is excluded; a timer firing late is overhead.
    adjustedMs: round(wallMs - h.timersConfiguredMs - rolloutMs),
    argon2id,
    activities: h.activities,
    localActivities: h.localActivities,
    historyEvents: h.events,
    activityRunMs: Object.fromEntries(Object.entries(h.activityRunMs).map(([k, v]) => [k, round(v)])),
  };
}

/** The RotateZone (overlap) runbook as a plain script: same library calls, same order, no Temporal. */
async function direct(rotator: Rotator, zoneName: string) {
  const deps = rotator.deps;
  const k = createKubernetesActivities(deps);
  const s = createStoreActivities(deps);
  const smoke = createSmokeActivities(deps);
  const workflowId = `direct-rotate-${zoneName}-${Date.now()}`;
  let waitedMs = 0;
  let rolloutMs = 0;
  const a2 = argon2Since();
  const wait = async (ms: number) => {
    await sleep(ms);
    waitedMs += ms;
  };
  const t0 = performance.now();
  const current = await k.describeZoneSecret(zoneName);
  if (!current.exists) throw new Error(`zone ${zoneName} has no credential`);
  const consumers = await k.zoneConsumers(zoneName);
  await k.recordZonePending(zoneName, { workflowId, strategy: 'overlap' });
  await s.ensureZoneIdentity(zoneName, 'pending');
  await smoke.smokeZone(zoneName, 'pending');
  const { writtenAt: promotedAt } = await k.promoteZonePending(zoneName, {
    workflowId,
    at: new Date().toISOString(),
  });
  await k.restartWorkloads(consumers, new Date(Date.parse(promotedAt) + 1).toISOString());
  const tr = performance.now();
  for (const ref of consumers) await waitForRollout(deps.kube, ref, { timeoutMs: ROLLOUT_TIMEOUT_MS });
  rolloutMs = performance.now() - tr;
  await smoke.smokeZone(zoneName, 'current');
  let pollMs = POD_POLL_START_MS;
  while ((await k.podsHoldingPrevious(zoneName, promotedAt)).length) {
    await wait(pollMs);
    pollMs *= 2;
  }
  await s.revokePrevious(zoneName);
  await k.deleteZonePending(zoneName);
  const wallMs = performance.now() - t0;
  return {
    wallMs: round(wallMs),
    timersMs: round(waitedMs),
    rolloutMs: round(rolloutMs),
    adjustedMs: round(wallMs - waitedMs - rolloutMs),
    argon2id: a2(),
  };
}

/**
 * The floor on this machine: wall time of workflows that only orchestrate (no store or
 * Kubernetes call), started and awaited like RotateZone. Empty; with as many local
 * activities as a rotation has; with one regular activity (a rollout wait's round trip).
 */
async function orchestrationFloor(ctx: BenchContext, rotator: Rotator, localSteps: number) {
  const client = rotator.client;
  const connection = await NativeConnection.connect({ address: ctx.stack.temporal.address });
  const taskQueue = `bench-floor-${Date.now()}`;
  const worker = await Worker.create({
    connection,
    namespace: ctx.stack.temporal.namespace,
    taskQueue,
    workflowsPath: require.resolve('./floor/workflows'),
    activities: floorActivities,
    // The same payload codec as the rotator's worker, so both sides pay for it.
    dataConverter: dataConverter(rotator.codec),
  });
  const time = async (locals: number, remotes: number) => {
    const samples: number[] = [];
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      await client.workflow.execute('Floor', {
        taskQueue,
        workflowId: `bench-floor-${locals}-${remotes}-${i}-${Date.now()}`,
        args: [{ locals, remotes }],
      });
      if (i > 0) samples.push(performance.now() - t0); // the first one warms the caches
    }
    return round(median(samples));
  };
  try {
    return await worker.runUntil(async () => {
      const emptyMs = await time(0, 0);
      const localsMs = await time(localSteps, 0);
      const oneActivityMs = await time(0, 1);
      return {
        localSteps,
        emptyWorkflowMs: emptyMs,
        withLocalStepsMs: localsMs,
        perLocalActivityMs: round((localsMs - emptyMs) / localSteps, 1),
        regularActivityRoundTripMs: round(oneActivityMs - emptyMs),
      };
    });
  } finally {
    await connection.close();
  }
}

export async function benchOverhead(ctx: BenchContext, rotator: Rotator) {
  // ingest has no consumers (pure orchestration); serving rolls two Deployments.
  const zones = ['ingest', 'serving'];
  const out: Record<string, unknown> = {};
  const ratios: Record<string, number> = {};
  // One unmeasured round warms the worker's workflow bundle cache and both code paths.
  await viaWorkflow(rotator, 'ingest');
  await direct(rotator, 'ingest');
  for (const zone of zones) {
    const pairs: Array<{
      workflow: Awaited<ReturnType<typeof viaWorkflow>>;
      direct: Awaited<ReturnType<typeof direct>>;
    }> = [];
    for (let r = 0; r < ctx.runs; r++) {
      log(`b3 ${zone} run ${r + 1}/${ctx.runs}`);
      // Alternate which side goes first, so drift in machine load hits both equally.
      if (r % 2 === 0) {
        const w = await viaWorkflow(rotator, zone);
        pairs.push({ workflow: w, direct: await direct(rotator, zone) });
      } else {
        const d = await direct(rotator, zone);
        pairs.push({ workflow: await viaWorkflow(rotator, zone), direct: d });
      }
    }
    const ratio = median(pairs.map((p) => p.workflow.adjustedMs / p.direct.adjustedMs));
    ratios[zone] = round(ratio, 2);
    out[zone] = {
      ratioMedian: round(ratio, 2),
      workflowAdjustedMsMedian: median(pairs.map((p) => p.workflow.adjustedMs)),
      directAdjustedMsMedian: median(pairs.map((p) => p.direct.adjustedMs)),
      overheadMsMedian: median(pairs.map((p) => p.workflow.adjustedMs - p.direct.adjustedMs)),
      workflowWallMsMedian: median(pairs.map((p) => p.workflow.wallMs)),
      directWallMsMedian: median(pairs.map((p) => p.direct.wallMs)),
      argon2idPerRotation: pairs[0]?.direct.argon2id,
      timerLatencyMsMedian: median(pairs.map((p) => p.workflow.timersMs - p.workflow.timersConfiguredMs)),
      rolloutMsMedian: {
        workflow: median(pairs.map((p) => p.workflow.rolloutMs)),
        direct: median(pairs.map((p) => p.direct.rolloutMs)),
      },
      pairs,
    };
  }
  const steps = (zone: string) =>
    (out[zone] as { pairs: Array<{ workflow: { localActivities: number; activities: number } }> }).pairs[0]!
      .workflow;
  log('b3 orchestration floor');
  const floor = await orchestrationFloor(ctx, rotator, steps('ingest').localActivities);
  // What the workflow would cost if each of its steps cost only the floor: the ratio no
  // amount of work on the activities can beat with this many steps on this server.
  const floorRatios = Object.fromEntries(
    zones.map((zone) => {
      const w = steps(zone);
      const overheadMs =
        floor.emptyWorkflowMs +
        w.localActivities * floor.perLocalActivityMs +
        (w.activities - w.localActivities) * floor.regularActivityRoundTripMs;
      const direct = (out[zone] as { directAdjustedMsMedian: number }).directAdjustedMsMedian;
      return [zone, { overheadMs: round(overheadMs), ratio: round((direct + overheadMs) / direct, 2) }];
    }),
  );
  return {
    name: 'overhead',
    target: 'RotateZone wall time excluding configured waits ≤ 1.25× the direct script',
    met: Object.values(ratios).every((r) => r <= 1.25),
    ratios,
    ...out,
    floor: { ...floor, ratios: floorRatios },
  };
}
