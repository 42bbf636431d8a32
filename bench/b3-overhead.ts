// Benchmark 3: orchestration overhead. RotateZone (grace 0s) against the same sequence of
// admin and Kubernetes calls made directly from this script, in the same run, alternating.
// Configured waits are excluded from both sides: timers (the pod-holder poll) and the
// rollout wait itself (scheduled → completed from the history; the direct script's own
// measured wait, both from the restart to the end of the wait).
import { createKubernetesActivities } from '../src/activities/kubernetes';
import { createSmokeActivities } from '../src/activities/smoke';
import { createStoreActivities } from '../src/activities/store';
import { waitForRollout } from '../src/kube';
import { type WorkflowResult } from '../src/workflows/types';
import { type Rotator } from '../test/support/rotator';
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
  return {
    name: 'overhead',
    target: 'RotateZone wall time excluding configured waits ≤ 1.25× the direct script',
    met: Object.values(ratios).every((r) => r <= 1.25),
    ratios,
    ...out,
  };
}
