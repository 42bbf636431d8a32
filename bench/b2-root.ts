// Benchmark 2: root downtime. The window in which the admin API rejects requests during
// RotateRoot, against the bare restart time of the store process, measured in the same run;
// and the window in which each zone's key is refused (on a store that loses IAM on a root
// change it lasts until RotateRoot has re-created the zone).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKube, loadKubeConfig, rolloutRestart, waitForRollout } from '../src/kube';
import { parseInventory } from '../src/inventory';
import { createAdminClient, createS3, isAdminError, type Credentials, type Dialect } from '../src/rustfs';
import { freePort } from '../src/sandbox/ports';
import { StoreProcess } from '../src/sandbox/store-process';
import { type SandboxState } from '../src/sandbox/state';
import { type WorkflowResult } from '../src/workflows/types';
import { readSecretData } from '../test/support/kube';
import { type Rotator } from '../test/support/rotator';
import { type BenchContext, FailureWindows, log, median, round, sleep } from './lib';

const PROBE_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 1000;

const credsOf = (d: Record<string, string>): Credentials => ({
  accessKey: d['access-key']!,
  secretKey: d['secret-key']!,
});

/** The admin API every store of the sandbox serves: MinIO's madmin, RustFS's own. */
let probeDialect: Dialect = 'madmin';

async function adminOk(endpoint: string, c: Credentials): Promise<string | true> {
  try {
    await createAdminClient({
      endpoint,
      dialect: probeDialect,
      credentials: c,
      timeoutMs: PROBE_TIMEOUT_MS,
    }).serverInfo();
    return true;
  } catch (err) {
    return isAdminError(err) ? err.code : (err as Error).message.slice(0, 80);
  }
}

/**
 * Probes the admin API every 50 ms until stopped (bounded by maxMs):
 * - `secret`: with whatever root the root Secret holds now (what any admin tool would use);
 * - `anyRoot`: with every root seen so far: fails only while the store serves no root at all.
 */
export function startProbes(stack: SandboxState, endpoint: string, fixed?: Credentials, maxMs = 240_000) {
  probeDialect = stack.store.kind === 'rustfs' ? 'rustfs' : 'madmin';
  const secret = new FailureWindows();
  const anyRoot = new FailureWindows();
  const known = new Map<string, Credentials>();
  let stopped = false;
  const t0 = Date.now();
  const done = (async () => {
    while (!stopped && Date.now() - t0 < maxMs) {
      let current = fixed;
      if (!current) {
        try {
          current = credsOf(await readSecretData(stack, 'dashi-platform', 'rustfs-root'));
        } catch {
          current = undefined;
        }
      }
      if (current) known.set(current.secretKey, current);
      const at = Date.now();
      const r = current ? await adminOk(endpoint, current) : 'root Secret unreadable';
      if (r === true) secret.ok(at);
      else secret.fail(r, at);
      let any = r === true;
      for (const c of known.values()) {
        if (any) break;
        if (c !== current) any = (await adminOk(endpoint, c)) === true;
      }
      if (any) anyRoot.ok(at);
      else anyRoot.fail('no root accepted', at);
      await sleep(PROBE_INTERVAL_MS);
    }
    secret.finish();
    anyRoot.finish();
  })();
  return {
    async stop() {
      stopped = true;
      await done;
      return { secret: secret.report(), anyRoot: anyRoot.report() };
    },
  };
}

/** Stop → start → first accepted serverInfo of a separate store process (same binary, same kind). */
async function bareRestarts(stack: SandboxState, runs: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-bench-store-'));
  const store = new StoreProcess(
    stack.store.kind,
    await freePort(),
    path.join(dir, 'data'),
    path.join(dir, 'logs'),
  );
  const root = { accessKey: 'bench-root', secretKey: randomBytes(20).toString('hex') };
  const out: Array<{ windowMs: number; stopMs: number; startToReadyMs: number }> = [];
  try {
    await store.start(root, () => undefined);
    await store.waitReady(60_000);
    for (let i = 0; i < runs; i++) {
      const probes = startProbes(stack, store.endpoint, root, 90_000);
      await sleep(300);
      const t0 = performance.now();
      await store.stop();
      const t1 = performance.now();
      await store.start(root, () => undefined);
      while ((await adminOk(store.endpoint, root)) !== true) await sleep(20);
      const t2 = performance.now();
      await sleep(300);
      const r = await probes.stop();
      out.push({
        windowMs: r.secret.longestFailureMs,
        stopMs: round(t1 - t0),
        startToReadyMs: round(t2 - t1),
      });
    }
  } finally {
    await store.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** A rollout restart of the store's StatefulSet with the root unchanged: the Kubernetes path alone. */
async function plainRollout(stack: SandboxState) {
  const kube = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
  const ref = stack.store.workload;
  const probes = startProbes(stack, stack.store.endpoint);
  await sleep(300);
  const t0 = performance.now();
  await rolloutRestart(kube, ref, new Date());
  await waitForRollout(kube, ref, { timeoutMs: 120_000 });
  while (
    (await adminOk(
      stack.store.endpoint,
      credsOf(await readSecretData(stack, 'dashi-platform', 'rustfs-root')),
    )) !== true
  )
    await sleep(20);
  const wallMs = performance.now() - t0;
  await sleep(300);
  const r = await probes.stop();
  return { windowMs: r.secret.longestFailureMs, wallMs: round(wallMs) };
}

/**
 * Each zone's key (what its Secret holds; RotateRoot does not change it) lists a bucket of
 * its policy every 50 ms: a failure window spans the store's restart and, on a store that
 * lost IAM, the time until the zone was re-created.
 */
async function startZoneProbes(stack: SandboxState, maxMs = 240_000) {
  const inventory = parseInventory(fs.readFileSync(stack.inventory, 'utf8'), stack.inventory);
  const zones = await Promise.all(
    inventory.zones.map(async (z) => ({
      zone: z.name,
      bucket: (z.policy.readOnly[0] ?? z.policy.readWrite[0])!,
      s3: createS3({
        endpoint: stack.store.endpoint,
        credentials: credsOf(await readSecretData(stack, z.secret.namespace, z.secret.name)),
        maxAttempts: 1,
        timeoutMs: PROBE_TIMEOUT_MS,
      }),
      windows: new FailureWindows(),
    })),
  );
  let stopped = false;
  const t0 = Date.now();
  const done = Promise.all(
    zones.map(async (z) => {
      while (!stopped && Date.now() - t0 < maxMs) {
        const at = Date.now();
        await z.s3.listObjects(z.bucket).then(
          () => z.windows.ok(at),
          (err: unknown) => z.windows.fail(isAdminError(err) ? err.code : 'unreachable', at),
        );
        await sleep(PROBE_INTERVAL_MS);
      }
      z.windows.finish();
      z.s3.close();
    }),
  );
  return {
    async stop() {
      stopped = true;
      await done;
      return Object.fromEntries(zones.map((z) => [z.zone, z.windows.report()]));
    },
  };
}

async function rotateRoot(ctx: BenchContext, rotator: Rotator) {
  const probes = startProbes(ctx.stack, ctx.stack.store.endpoint);
  const zoneProbes = await startZoneProbes(ctx.stack);
  await sleep(300);
  const t0 = performance.now();
  const result = (await rotator.client.workflow.execute('RotateRoot', {
    taskQueue: rotator.taskQueue,
    workflowId: 'rotate-root',
    args: [{ approve: true, restartTimeout: '2m' }],
  })) as WorkflowResult;
  const wallMs = performance.now() - t0;
  await sleep(300);
  const r = await probes.stop();
  const zones = await zoneProbes.stop();
  if (result.outcome !== 'completed') throw new Error(`RotateRoot: ${result.outcome}`);
  const zoneWindows = Object.values(zones).map((z) => z.longestFailureMs);
  return {
    windowMs: r.secret.longestFailureMs,
    zoneKeyWindowMsMax: Math.max(...zoneWindows),
    zoneKeyWindows: zones,
    zoneKeysRefusedMsReported: result.root?.zoneKeysRefusedMs,
    iamSurvivesRootChange: result.root?.store?.iamSurvivesRootChange,
    anyRootWindowMs: r.anyRoot.longestFailureMs,
    failureWindows: r.secret.windows,
    probes: r.secret.requests,
    errors: r.secret.errors,
    storeDowntimeMsReported: result.root?.storeDowntimeMs,
    wallMs: round(wallMs),
  };
}

export async function benchRootDowntime(ctx: BenchContext, rotator: Rotator) {
  probeDialect = ctx.stack.store.kind === 'rustfs' ? 'rustfs' : 'madmin';
  log(`b2: bare store restarts (${ctx.runs})`);
  const bare = await bareRestarts(ctx.stack, ctx.runs);
  const rollouts: Array<Awaited<ReturnType<typeof plainRollout>>> = [];
  const rotations: Array<Awaited<ReturnType<typeof rotateRoot>>> = [];
  for (let r = 0; r < ctx.runs; r++) {
    log(`b2 run ${r + 1}/${ctx.runs}: plain StatefulSet rollout restart`);
    rollouts.push(await plainRollout(ctx.stack));
    log(`b2 run ${r + 1}/${ctx.runs}: RotateRoot`);
    rotations.push(await rotateRoot(ctx, rotator));
  }
  const bareMs = median(bare.map((b) => b.windowMs));
  // Only a store that lost IAM reports it.
  const reported = rotations.flatMap((x) =>
    x.zoneKeysRefusedMsReported === undefined ? [] : [x.zoneKeysRefusedMsReported],
  );
  const windowMs = median(rotations.map((x) => x.windowMs));
  return {
    name: 'root',
    target: 'RotateRoot admin-API rejection window ≤ bare store restart + 1 s',
    met: windowMs <= bareMs + 1000,
    rotateRootWindowMsMedian: windowMs,
    anyRootWindowMsMedian: median(rotations.map((x) => x.anyRootWindowMs)),
    bareRestartMsMedian: bareMs,
    plainRolloutWindowMsMedian: median(rollouts.map((x) => x.windowMs)),
    excessOverBareMs: round(windowMs - bareMs),
    rotateRootWallMsMedian: median(rotations.map((x) => x.wallMs)),
    store: `${ctx.stack.store.kind}${process.env.ROTATOR_STORE_BIN ? ` (${path.basename(path.dirname(process.env.ROTATOR_STORE_BIN))})` : ''}`,
    iamSurvivesRootChange: rotations[0]?.iamSurvivesRootChange,
    // Zone keys refused beyond the admin API's own outage: the IAM rebuild on a lossy store.
    zoneKeyWindowMsMedian: median(rotations.map((x) => x.zoneKeyWindowMsMax)),
    zoneKeyExcessOverRootWindowMsMedian: median(
      rotations.map((x) => round(x.zoneKeyWindowMsMax - x.windowMs)),
    ),
    zoneKeysRefusedMsReportedMedian: reported.length ? median(reported) : undefined,
    bare,
    rollouts,
    rotations,
  };
}
