#!/usr/bin/env node
// Runs the test suite with node's test runner. Tests outside test/unit need the local
// stack: this starts ONE sandbox for the whole run (not one per test), hands its state
// file to every test process in ROTATOR_SANDBOX_STATE, stops it afterwards and fails
// the run if any process of it is left behind.
//
//   node scripts/run-tests.mjs              every test
//   node scripts/run-tests.mjs --unit       unit tests only, no stack
//   node scripts/run-tests.mjs FILE...      the given test files
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const args = process.argv.slice(2);

function listTests(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f))
    .sort();
}

const files = args.includes('--unit')
  ? listTests('test/unit')
  : args.filter((a) => !a.startsWith('--')).length
    ? args.filter((a) => !a.startsWith('--'))
    : ['test/unit', 'test/integration', 'test/e2e', 'test/replay'].flatMap(listTests);
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const needsStack = files.some((f) => !path.normalize(f).startsWith(path.join('test', 'unit')));

const log = (msg) => console.error(`[run-tests] ${msg}`);

async function startStack() {
  const stateFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-run-')), 'state.json');
  log('starting the local stack (Temporal, Kubernetes control plane + kwok, object store, node agent)…');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'sandbox', 'up', '--state-file', stateFile, '--quiet-endpoints'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const started = Date.now();
  while (!fs.existsSync(stateFile)) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('waiting'), 250))]);
    if (code !== 'waiting')
      throw new Error(`the sandbox failed to start (exit ${code}); see the lines above`);
    if (Date.now() - started > 300_000) {
      child.kill('SIGTERM');
      throw new Error('the sandbox did not become ready within 5 minutes');
    }
  }
  log(`stack ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  return { child, exited, stateFile, dir: state.dir };
}

function leftovers(dir) {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(dir) && !line.includes('ps -eo'))
    .map((l) => l.trim());
}

async function main() {
  let stack;
  if (needsStack) {
    try {
      stack = await startStack();
    } catch (err) {
      console.error(`run-tests: ${err.message}`);
      process.exitCode = 1;
      return;
    }
  }
  const env = { ...process.env };
  if (stack) env.ROTATOR_SANDBOX_STATE = stack.stateFile;
  const testArgs = [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    // One shared stack: test files take turns so that timing-sensitive checks hold.
    `--test-concurrency=${needsStack ? 1 : os.cpus().length}`,
    ...files,
  ];
  const test = spawn(process.execPath, testArgs, { stdio: 'inherit', env });
  const forward = (sig) => test.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise((resolve) => test.on('exit', (c) => resolve(c ?? 1)));
  process.exitCode = code;
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
      log('sandbox stopped, no process left behind');
    }
  }
}

await main();
