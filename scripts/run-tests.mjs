#!/usr/bin/env node
// Runs the test suite: each test file in its own `node --test` process, scheduled in lanes
// (scripts/test-lanes.mjs) on ROTATOR_TEST_JOBS slots (default: the core count, at most 2 on
// the machines CI uses). Tests outside test/unit and test/replay need the local stack: ONE
// sandbox is started for the whole run, at once, while the files that need none already run;
// its state file reaches every test process in ROTATOR_SANDBOX_STATE, it is stopped
// afterwards and the run fails if any process of it is left behind.
//
// Paid once per run: src/ is transpiled (esbuild) into a per-run build tree and the workflows
// are bundled into it (ROTATOR_TEST_BUILD): CLI and worker subprocesses start from
// JavaScript and every test worker loads that one bundle (test/support/build.ts).
//
//   node scripts/run-tests.mjs              every test
//   node scripts/run-tests.mjs --checks     every test, with the typecheck and the lint as
//                                           jobs of the run (what `npm test` runs)
//   node scripts/run-tests.mjs --unit       the files that need no stack
//   node scripts/run-tests.mjs FILE...      the given test files; FILE::REGEX runs only its tests
//                                           whose names match (the others are reported as
//                                           not run: scripts/test-rustfs.ts's rounds)
//   --summary FILE                          also write the per-file results as JSON
//
// ROTATOR_TEST_JOBS: slots (default min(2, cores)); ROTATOR_TEST_PRIVATE_JOBS: more slots that
// only PRIVATE files take (default 0).
//
// Every file has a time limit (ROTATOR_TEST_FILE_TIMEOUT seconds, default 600; 900 for the
// 4-node files, MULTI_NODE_FILE_TIMEOUT_S): a hang fails naming the file. The run ends with the
// slowest files and one line of totals.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import {
  isMultiNode,
  laneOf,
  mayStartBeside,
  MULTI_NODE_FILE_TIMEOUT_S,
  MULTI_NODE_STORE_NODES,
  NO_STACK_DIRS,
  takesSlot,
} from './test-lanes.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const started = Date.now();
const args = process.argv.slice(2);
const summaryFile = args.includes('--summary') ? args[args.indexOf('--summary') + 1] : undefined;
const positional = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--summary');
const withChecks = args.includes('--checks');
const jobs = Number(process.env.ROTATOR_TEST_JOBS ?? Math.min(2, os.cpus().length));
// Slots only PRIVATE files may take, beyond `jobs` (their waits on timers and restarts leave
// the cores idle part of the time).
const privateJobs = Number(process.env.ROTATOR_TEST_PRIVATE_JOBS ?? 0);

const clock = (since = started) => {
  const s = Math.round((Date.now() - since) / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};
const log = (msg) => console.error(`[run-tests ${clock()}] ${msg}`);

function listTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f))
    .sort();
}

const patterns = new Map();
const files = (
  args.includes('--unit')
    ? NO_STACK_DIRS.flatMap(listTests)
    : positional.length
      ? positional
      : ['test/unit', 'test/replay', 'test/integration', 'test/e2e'].flatMap(listTests)
).map((arg) => {
  const [file, pattern] = arg.split('::');
  if (pattern) patterns.set(file, pattern);
  return file;
});
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const needsStack = files.some((f) => laneOf(f) !== 'none');
// test/multinode needs the distributed store, the other stack files one store process: one
// stack cannot serve both.
const multiNode = files.filter(isMultiNode);
if (multiNode.length && files.some((f) => !isMultiNode(f) && laneOf(f) !== 'none')) {
  console.error(
    `run-tests: ${multiNode.join(', ')} need a distributed store and the other stack files one store process; run them apart`,
  );
  process.exit(1);
}
if (multiNode.length) process.env.ROTATOR_STORE_NODES ??= MULTI_NODE_STORE_NODES;
const fileTimeoutS = Number(
  process.env.ROTATOR_TEST_FILE_TIMEOUT ?? (multiNode.length ? MULTI_NODE_FILE_TIMEOUT_S : 600),
);

/** src/ as JavaScript in a tree of its own (same depth as src/), plus the workflow bundle. */
async function buildOnce() {
  const dir = path.join(root, '.test-build', String(process.pid));
  fs.rmSync(dir, { recursive: true, force: true });
  const entryPoints = fs
    .readdirSync('src', { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join('src', f));
  await build({
    entryPoints,
    outdir: dir,
    outbase: 'src',
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  execFileSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(path.join(dir, 'worker', 'build.js'))}).writeWorkflowBundle()`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return dir;
}

async function startStack() {
  const stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-run-')), 'state.json');
  log('stack: starting (Temporal, Kubernetes control plane + kwok, object store, node agent)…');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'sandbox', 'up', '--state-file', stateFile, '--quiet-endpoints'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const since = Date.now();
  const stack = { child, exited, stateFile, dir: undefined };
  while (!fs.existsSync(stateFile)) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('waiting'), 250))]);
    if (code !== 'waiting')
      throw new Error(`the sandbox failed to start (exit ${code}); see the lines above`);
    if (stopping) {
      child.kill('SIGTERM');
      await exited;
      throw new Error('stopped by a signal while the sandbox started');
    }
    if (Date.now() - since > 300_000) {
      child.kill('SIGTERM');
      throw new Error('the sandbox did not become ready within 5 minutes');
    }
  }
  stack.dir = JSON.parse(fs.readFileSync(stateFile, 'utf8')).dir;
  log(`stack: ready in ${clock(since)}`);
  return stack;
}

function leftovers(dir) {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(dir) && !line.includes('ps -eo'))
    .map((l) => l.trim());
}

const running = new Set();
let stopping = false;

/** Runs one job in its own process group; resolves with its output, counts and timing. */
function runJob(job, env) {
  return new Promise((resolve) => {
    const since = Date.now();
    const child = spawn(job.command[0], job.command.slice(1), {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, job.timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      const count = (name) => Number(new RegExp(`^ℹ ${name} (\\d+)$`, 'm').exec(out)?.[1] ?? 0);
      resolve({
        ...job,
        out,
        code: code ?? 1,
        timedOut,
        ms: Date.now() - since,
        pass: count('pass'),
        fail: count('fail') + count('cancelled'),
        skipped: count('skipped') + count('todo'),
        notRun: [...out.matchAll(/^\s*﹣ (.+) \([\d.]+m?s\) # test name does not match pattern$/gm)].map(
          (m) => m[1],
        ),
        // Named in the closing lines, which are all a CI log may keep; the spec reporter repeats
        // each failure in its closing list, hence the Set.
        failed: [...new Set([...out.matchAll(/^\s*✖ (.+) \([\d.]+m?s\)$/gm)].map((m) => m[1]))],
      });
    });
  });
}

/** A job that could not start, shaped as runJob's result: it counts as one failure. */
function notStarted(job, out) {
  return {
    ...job,
    out,
    code: 1,
    timedOut: false,
    ms: 0,
    pass: 0,
    fail: 1,
    skipped: 0,
    notRun: [],
    failed: [],
  };
}

function testJob(file) {
  return {
    name: file,
    lane: laneOf(file),
    slot: takesSlot(file),
    timeoutS: fileTimeoutS,
    command: [
      process.execPath,
      // esbuild-register compiles the TypeScript files a test loads and leaves node_modules to
      // Node's own loader: tsx's loader hooks, which see every module, cost about 1.6 CPU-s
      // more in each test process that loads the activities (measured on Node 20).
      '--require',
      'esbuild-register',
      '--test',
      '--test-reporter=spec',
      ...(patterns.has(file) ? [`--test-name-pattern=${patterns.get(file)}`] : []),
      file,
    ],
  };
}

function checkJob(name, bin, argv) {
  return {
    name,
    lane: 'none',
    slot: true,
    check: true,
    timeoutS: fileTimeoutS,
    command: [path.join('node_modules', '.bin', bin), ...argv],
  };
}

function report(r) {
  const status = r.timedOut
    ? `TIMED OUT after ${fileTimeoutS} s (ROTATOR_TEST_FILE_TIMEOUT): the file was killed`
    : r.check
      ? r.code === 0
        ? 'ok'
        : `FAILED (exit ${r.code})`
      : `${r.pass} passed, ${r.fail} failed${r.skipped ? `, ${r.skipped} skipped` : ''}${r.code !== 0 && r.fail === 0 ? `, exit ${r.code}` : ''}`;
  const show = !r.check || r.code !== 0 || r.timedOut;
  if (show) process.stdout.write(`\n──── ${r.name} ────\n${r.out.trimEnd()}\n`);
  log(`${r.name}: ${status} in ${(r.ms / 1000).toFixed(1)} s`);
}

async function main() {
  let stack;
  let stackError;
  const stackReady = needsStack
    ? startStack().then(
        (s) => (stack = s),
        (err) => (stackError = err),
      )
    : Promise.resolve();

  log(`build: transpiling src/ and bundling the workflows once for the run…`);
  let buildDir;
  try {
    buildDir = await buildOnce();
  } catch (err) {
    log(`build failed: ${err.message}`);
    process.exitCode = 1;
  }
  if (buildDir) log('build: done');
  const env = { ...process.env, ...(buildDir ? { ROTATOR_TEST_BUILD: buildDir } : {}) };

  const queue = [
    ...(withChecks
      ? [checkJob('typecheck', 'tsc', ['-p', 'tsconfig.json', '--noEmit']), checkJob('lint', 'eslint', ['.'])]
      : []),
    // Stack files first: they take the next free slot once the stack is up (the serial chain of
    // exclusive files is the run's critical path). The PRIVATE files that wait (no slot) start at
    // once; the isolated ones share both slots, then the exclusive chain takes one and the other
    // PRIVATE files run beside it in the other; files that need no stack fill the slots before
    // the stack is up and whatever is left afterwards.
    ...files.filter((f) => laneOf(f) === 'private' && !takesSlot(f)),
    ...files.filter((f) => laneOf(f) === 'isolated'),
    ...files.filter((f) => laneOf(f) === 'exclusive'),
    ...files.filter((f) => laneOf(f) === 'private' && takesSlot(f)),
    ...files.filter((f) => laneOf(f) === 'none'),
  ].map((j) => (typeof j === 'string' ? testJob(j) : j));
  const results = [];
  const active = new Set();
  let stackSettled = !needsStack;
  stackReady.then(() => {
    stackSettled = true;
    if (stack) env.ROTATOR_SANDBOX_STATE = stack.stateFile;
    if (stack) log(`stack: ready; stack files may start`);
  });

  await new Promise((done) => {
    const pump = () => {
      // Stopped by a signal: no file starts any more, and the run ends as it would (the stack
      // stopped, no process left behind) once those running are gone.
      if (stopping && queue.length) {
        log(`stopped by a signal: ${queue.length} file(s) not started`);
        queue.length = 0;
      }
      while (queue.length) {
        const lanes = [...active].map((j) => j.lane);
        // A file that mostly waits (WAITING: an outage it holds for minutes on processes of its
        // own) takes no slot, so the exclusive chain and the files that need no stack keep theirs.
        const slotted = [...active].filter((j) => j.slot);
        const busyPrivate = slotted.filter((j) => j.lane === 'private').length;
        const busy = slotted.length - busyPrivate;
        const idx = queue.findIndex((j) => {
          if (j.slot && j.lane === 'private' && busy + busyPrivate >= jobs + privateJobs) return false;
          if (j.slot && j.lane !== 'private' && busy + Math.max(0, busyPrivate - privateJobs) >= jobs)
            return false;
          if (j.lane === 'none') return true;
          if (!stackSettled) return false;
          return mayStartBeside(j.lane, lanes);
        });
        if (idx < 0) break;
        const [job] = queue.splice(idx, 1);
        if (job.lane !== 'none' && stackError) {
          results.push(notStarted(job, String(stackError.message)));
          log(`${job.name}: not run, the stack did not start`);
          continue;
        }
        if (!buildDir && !job.check) {
          results.push(notStarted(job, 'not run: the build failed'));
          continue;
        }
        active.add(job);
        log(`${job.name}: started (${job.lane === 'none' ? 'no stack' : job.lane})`);
        runJob(job, { ...env }).then((r) => {
          active.delete(job);
          results.push(r);
          report(r);
          pump();
        });
      }
      if (queue.length === 0 && active.size === 0) done();
    };
    stackReady.then(pump);
    pump();
  });

  const tests = results.filter((r) => !r.check);
  const failedChecks = results.filter((r) => r.check && r.code !== 0);
  const sum = (k) => tests.reduce((n, r) => n + r[k], 0);
  const broken = tests.filter((r) => r.timedOut || r.code !== 0 || r.fail > 0);
  console.log(`\n[run-tests] slowest files:`);
  for (const r of [...tests].sort((a, b) => b.ms - a.ms).slice(0, 15)) {
    console.log(`  ${(r.ms / 1000).toFixed(1).padStart(7)} s  ${r.name}`);
  }
  for (const r of failedChecks) console.log(`[run-tests] ${r.name} FAILED`);
  for (const r of broken) {
    console.log(`[run-tests] FAILED: ${r.name}${r.timedOut ? ' (timed out)' : ''}`);
    for (const t of r.failed) console.log(`[run-tests]   ✖ ${t}`);
  }
  const ran = (rs) => rs.reduce((n, r) => n + r.pass + r.fail, 0);
  const onStack = tests.filter((r) => r.lane !== 'none');
  log(
    `${tests.length} files, ${sum('pass') + sum('fail') + sum('skipped')} tests in ${clock()}: ` +
      `${ran(onStack)} ran on the real stack (${onStack.length} files), ${ran(tests) - ran(onStack)} without it` +
      `${process.env.ROTATOR_STORE_BIN ? ` (store: ${process.env.ROTATOR_STORE_BIN})` : ''}`,
  );
  if (summaryFile) {
    fs.writeFileSync(
      summaryFile,
      JSON.stringify(
        {
          pass: sum('pass'),
          fail: sum('fail'),
          skipped: sum('skipped'),
          // Each failed file by its failed tests, or by how it ended when it named none (a crash, a timeout).
          failures: broken.flatMap((r) =>
            r.failed.length
              ? r.failed.map((t) => `${r.name} › ${t}`)
              : [`${r.name} (exit ${r.code}${r.timedOut ? ', timed out' : ''})`],
          ),
          files: tests.map(({ name, lane, ms, pass, fail, skipped, notRun, failed, code, timedOut }) => ({
            name,
            lane,
            ms,
            pass,
            fail,
            skipped,
            notRun,
            failed,
            code,
            timedOut,
          })),
        },
        null,
        2,
      ),
    );
  }
  if (broken.length || failedChecks.length) process.exitCode = 1;

  if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
  await stackReady;
  if (stack) {
    stack.child.kill('SIGTERM');
    await stack.exited;
    await new Promise((r) => setTimeout(r, 500));
    const left = leftovers(stack.dir);
    if (left.length) {
      console.error(`run-tests: processes left behind by the sandbox:\n${left.join('\n')}`);
      for (const line of left) {
        try {
          process.kill(Number(line.split(/\s+/)[0]), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      process.exitCode = 1;
    } else {
      log('stack: stopped, no process left behind');
    }
  }
  // The one closing line CI reads, for every file of the run together: a file that failed
  // without a failed test (it crashed, timed out) and a failed check count as one failure each.
  const failed = sum('fail') + broken.filter((r) => r.fail === 0).length + failedChecks.length;
  console.log(
    `${sum('pass')} passed, ${failed} failed${sum('skipped') ? `, ${sum('skipped')} skipped` : ''}`,
  );
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    stopping = true;
    for (const child of running) {
      try {
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    }
    process.exitCode = 130;
  });
}

await main();
