// Where the worker's resident memory comes from, one import at a time (no stack needed):
//   npm run build && node --import tsx bench/rss-breakdown.ts
// Each scenario runs in a fresh `node` process so that nothing one loads stays resident for
// the next; the worker's own path is the compiled JavaScript in dist/ (what production and
// benchmark 4 run). Prints JSON: RSS in MB after each step, and each process's peak (VmHWM).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { WORKER_ENV, WORKER_NODE_FLAGS } from './worker-process';

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

interface Step {
  step: string;
  rssMb: number;
}
interface Scenario {
  name: string;
  /** Node flags, e.g. the tsx loader. */
  flags?: string[];
  env?: Record<string, string>;
  /** [label, CommonJS statement run in the child]; the statements run in order. */
  steps: Array<[string, string]>;
}

// Runs in the child: each statement, then its RSS; an `await` is allowed in a statement.
function childScript(steps: Array<[string, string]>): string {
  const body = steps
    .map(([label, stmt]) => `${stmt};\nout.push({ step: ${JSON.stringify(label)}, rssMb: rss() });`)
    .join('\n');
  return `(async () => {
const fs = require('node:fs');
const rss = () => Math.round(process.memoryUsage().rss / 2 ** 20);
const out = [];
${body}
const hwm = Number(/VmHWM:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
process.stdout.write(JSON.stringify({ steps: out, peakMb: Math.round(hwm / 1024) }));
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });`;
}

function run(s: Scenario): { name: string; steps: Step[]; peakMb: number } {
  const out = execFileSync(process.execPath, [...(s.flags ?? []), '-e', childScript(s.steps)], {
    cwd: ROOT,
    env: { ...process.env, ...s.env },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return { name: s.name, ...(JSON.parse(out) as { steps: Step[]; peakMb: number }) };
}

const dist = (p: string) => JSON.stringify(path.join(DIST, p));
const seal = (algorithm: 'Pbkdf2AesGcm' | 'Argon2idAesGcm', n = 1) =>
  `await Promise.all(Array.from({ length: ${n} }, () => crypto.encryptMadmin('bench-secret-key-0123456789', Buffer.from('{}'), { algorithm: crypto.MadminAlgorithm.${algorithm} })))`;

const WORKER_IMPORTS: Array<[string, string]> = [
  ['@kubernetes/client-node', `require('@kubernetes/client-node')`],
  ['@aws-sdk/client-s3', `require('@aws-sdk/client-s3')`],
  ['@temporalio/worker', `require('@temporalio/worker')`],
  ['dist/worker/build (activities, rustfs, kube)', `require(${dist('worker/build.js')})`],
];

const scenarios: Scenario[] = [
  {
    name: 'worker imports, compiled (node dist/…)',
    steps: [
      ['bare node', '0'],
      ...WORKER_IMPORTS,
      ['madmin-crypto loaded', `const crypto = require(${dist('rustfs/madmin-crypto.js')})`],
      ['1 PBKDF2 seal', seal('Pbkdf2AesGcm')],
      ['1 Argon2id seal (native, thread pool)', seal('Argon2idAesGcm')],
      ['8 concurrent Argon2id seals (queued)', seal('Argon2idAesGcm', 8)],
    ],
  },
  {
    name: 'the same, with the worker process settings of benchmark 4',
    flags: WORKER_NODE_FLAGS,
    env: WORKER_ENV,
    steps: [
      ['bare node', '0'],
      ...WORKER_IMPORTS,
      ['madmin-crypto loaded', `const crypto = require(${dist('rustfs/madmin-crypto.js')})`],
      ['1 Argon2id seal (native, thread pool)', seal('Argon2idAesGcm')],
    ],
  },
  {
    name: 'the same imports through the tsx loader (src/…)',
    flags: ['--import', 'tsx'],
    steps: [
      ['bare node + tsx loader', '0'],
      ...WORKER_IMPORTS.slice(0, 3),
      ['src/worker/build (activities, rustfs, kube)', `require('./src/worker/build')`],
    ],
  },
  {
    name: '@kubernetes/client-node: only KubeConfig (dist/config.js), then the package',
    steps: [
      ['bare node', '0'],
      // KubeConfig imports gen/index.js, which loads every API group and all models.
      ['@kubernetes/client-node/dist/config.js', `require('@kubernetes/client-node/dist/config.js')`],
      ['@kubernetes/client-node (all)', `require('@kubernetes/client-node')`],
    ],
  },
  {
    name: 'bundling the workflows at start (what a prebuilt bundle avoids)',
    steps: [
      ['bare node', '0'],
      ['@temporalio/worker', `const { bundleWorkflowCode } = require('@temporalio/worker')`],
      [
        'bundleWorkflowCode(dist/workflows)',
        `await bundleWorkflowCode({ workflowsPath: ${dist('workflows/index.js')}, logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } })`,
      ],
    ],
  },
];

function main(): void {
  if (!fs.existsSync(path.join(DIST, 'worker', 'build.js'))) {
    throw new Error('rss-breakdown: dist/ is missing; run `npm run build` first');
  }
  const results = scenarios.map(run);
  process.stdout.write(`${JSON.stringify({ node: process.version, scenarios: results }, null, 2)}\n`);
}

main();
