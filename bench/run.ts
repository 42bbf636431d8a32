// `npm run bench`: starts ONE sandbox, runs the benchmarks against it, stops it.
// stdout: one JSON document (machine-readable). stderr: progress and a human table.
//
//   tsx bench/run.ts [--only consumer,root,overhead,scale,memory] [--runs N] [--quick] [--sizes 10,50,100]
//                    [--parallelism P] [--out FILE]
//   tsx bench/run.ts --only nodes [--runs N]     benchmark 6, alone: it needs a 4-node store
//
// `npm run -s bench > result.json` keeps npm's banner out of stdout; --out also writes the JSON to FILE.
//
// --quick: 1 run each and scale sizes 5,20 (a smoke of the harness, ~2 min).
// `memory` is measured during `scale` (the worker of benchmark 4 runs as its own process).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { startSandbox, type Sandbox } from '../src/sandbox/sandbox';
import { readSecretData } from '../test/support/kube';
import { startRotator, type Rotator } from '../test/support/rotator';
import { benchConsumerFailures } from './b1-consumer';
import { benchRootDowntime } from './b2-root';
import { benchOverhead } from './b3-overhead';
import { benchScale } from './b4-scale';
import { benchRootNodes } from './b6-root-nodes';
import { type BenchContext, log } from './lib';
import { printTable } from './table';

const ALL = ['consumer', 'root', 'overhead', 'scale', 'memory'] as const;
/** Benchmark 6 runs on a sandbox of its own (4 store nodes), only when asked for. */
const NODES = 'nodes';
type Name = (typeof ALL)[number] | typeof NODES;

function parseArgs(argv: string[]) {
  let only: Name[] = [...ALL];
  let runs: number | undefined;
  let quick = false;
  let sizes: number[] | undefined;
  let out: string | undefined;
  let parallelism: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--only') {
      only = value()
        .split(',')
        .map((s) => s.trim()) as Name[];
      const bad = only.filter((n) => n !== NODES && !(ALL as readonly string[]).includes(n));
      if (bad.length)
        throw new Error(
          `--only: unknown benchmark(s) ${bad.join(', ')}; known: ${[...ALL, NODES].join(', ')}`,
        );
      if (only.includes(NODES) && only.length > 1)
        throw new Error(`--only ${NODES} runs alone: it needs a sandbox of 4 store nodes`);
    } else if (a === '--runs') {
      runs = Number(value());
      if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs needs a positive integer');
    } else if (a === '--quick') quick = true;
    else if (a === '--sizes') sizes = value().split(',').map(Number);
    else if (a === '--out') out = value();
    else if (a === '--parallelism') parallelism = Number(value());
    else if (a === '--help' || a === '-h') {
      process.stderr.write(
        'usage: tsx bench/run.ts [--only consumer,root,overhead,scale,memory] [--runs N] [--quick] [--sizes 10,50,100] [--parallelism P] [--out FILE]\n',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return {
    only,
    runs: runs ?? (quick ? 1 : 3),
    quick,
    sizes: sizes ?? (quick ? [5, 20] : [10, 50, 100]),
    out,
    // Zones at once in BootstrapCluster and its RotateZone children (the workflow's input).
    parallelism: parallelism ?? 16,
  };
}

function machine() {
  let commit = 'unknown';
  let dirty = false;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim().length > 0;
  } catch {
    // not a git checkout
  }
  return {
    date: new Date().toISOString(),
    commit,
    dirtyTree: dirty,
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memMb: Math.round(os.totalmem() / 2 ** 20),
    loadavgAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

async function ensureBootstrapped(rotator: Rotator, ctx: BenchContext): Promise<void> {
  const exists = await readSecretData(ctx.stack, 'dashi-serving', 'dashi-rustfs-serving').then(
    () => true,
    () => false,
  );
  if (exists) return;
  log('bootstrapping the dashi zones');
  await rotator.client.workflow.execute('BootstrapCluster', {
    taskQueue: rotator.taskQueue,
    workflowId: 'bootstrap-cluster',
    args: [{}],
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const report: Record<string, unknown> = { machine: machine(), args };
  const results: Record<string, unknown> = {};
  let sandbox: Sandbox | undefined;
  let rotator: Rotator | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    log('interrupted: stopping the sandbox');
    void (async () => {
      await rotator?.close().catch(() => undefined);
      await sandbox?.stop().catch(() => undefined);
      process.exit(130);
    })();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const t0 = Date.now();
  try {
    log('starting the sandbox');
    sandbox = await startSandbox({
      log: (m) => log(`sandbox: ${m}`),
      ...(args.only.includes(NODES) && { storeNodes: 4 }),
    });
    const ctx: BenchContext = { stack: sandbox.state, runs: args.runs, quick: args.quick };
    const wants = (n: Name) => args.only.includes(n);
    if (wants('consumer') || wants('root') || wants('overhead') || wants(NODES)) {
      rotator = await startRotator(ctx.stack, { grace: '0s' });
      await ensureBootstrapped(rotator, ctx);
    }
    const guarded = async (name: string, fn: () => Promise<unknown>) => {
      const started = Date.now();
      try {
        results[name] = await fn();
      } catch (err) {
        log(`${name} FAILED: ${(err as Error).stack ?? String(err)}`);
        results[name] = { name, error: (err as Error).message };
      }
      log(`${name} took ${Math.round((Date.now() - started) / 1000)} s`);
    };
    if (wants('consumer')) await guarded('consumer', () => benchConsumerFailures(ctx, rotator!));
    if (wants('overhead')) await guarded('overhead', () => benchOverhead(ctx, rotator!));
    if (wants('root')) await guarded('root', () => benchRootDowntime(ctx, rotator!));
    if (wants(NODES)) await guarded(NODES, () => benchRootNodes(ctx, rotator!));
    await rotator?.close();
    rotator = undefined;
    if (wants('scale') || wants('memory')) {
      await guarded('scale', async () => {
        const r = await benchScale(ctx, args.sizes, args.parallelism);
        // The table lists benchmarks in insertion order: scale (4) before memory (5).
        results.scale = r.scale;
        results.memory = r.memory;
        return r.scale;
      });
    }
  } finally {
    await rotator?.close().catch(() => undefined);
    log('stopping the sandbox');
    await sandbox?.stop().catch((err: unknown) => log(`sandbox stop: ${String(err)}`));
  }
  report.results = results;
  report.elapsedS = Math.round((Date.now() - t0) / 1000);
  (report.machine as Record<string, unknown>).loadavgAtEnd = os
    .loadavg()
    .map((x) => Math.round(x * 100) / 100);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  process.stdout.write(json);
  if (args.out) fs.writeFileSync(args.out, json);
  printTable(results, (line) => process.stderr.write(`${line}\n`));
  const failed = Object.values(results).some((r) => (r as { error?: string }).error);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  log(`fatal: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
