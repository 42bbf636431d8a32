// Benchmark 2: root downtime. The window in which the admin API rejects requests during
// RotateRoot, against the bare restart time of the store process, measured in the same run.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKube, loadKubeConfig, rolloutRestart, waitForRollout } from '../src/kube';
import { createAdminClient, isAdminError, type Credentials } from '../src/rustfs';
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

async function adminOk(endpoint: string, c: Credentials): Promise<string | true> {
  try {
    await createAdminClient({
      endpoint,
      dialect: 'madmin',
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
function startProbes(stack: SandboxState, endpoint: string, fixed?: Credentials, maxMs = 240_000) {
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

async function rotateRoot(ctx: BenchContext, rotator: Rotator) {
  const probes = startProbes(ctx.stack, ctx.stack.store.endpoint);
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
  if (result.outcome !== 'completed') throw new Error(`RotateRoot: ${result.outcome}`);
  return {
    windowMs: r.secret.longestFailureMs,
    anyRootWindowMs: r.anyRoot.longestFailureMs,
    failureWindows: r.secret.windows,
    probes: r.secret.requests,
    errors: r.secret.errors,
    storeDowntimeMsReported: result.root?.storeDowntimeMs,
    wallMs: round(wallMs),
  };
}

export async function benchRootDowntime(ctx: BenchContext, rotator: Rotator) {
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
    bare,
    rollouts,
    rotations,
  };
}
