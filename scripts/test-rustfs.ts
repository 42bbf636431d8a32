// A round of store-dependent tests on every real RustFS release beside the repository
// (../shared/rustfs/rustfs-<tag>.xz and ../shared/rustfs/next/rustfs-<tag>.xz), one sandbox per
// release with that server as its store; with --multi-node also a 4-node round per release and
// one on MinIO's distributed mode. A release added there gets its round with no change here.
// Run by .ci/run after the README's test command (every release on one node; the 4-node rounds run
// by hand, docs/developing.md); a user's clone has no ../shared and skips it.
//
//   node --import tsx scripts/test-rustfs.ts                     every release, one node
//   node --import tsx scripts/test-rustfs.ts TAG...              only these releases
//   node --import tsx scripts/test-rustfs.ts --multi-node        also test/multinode on 4 nodes of each release
//                                                                and of MinIO (`minio` as a TAG: that round)
//   node --import tsx scripts/test-rustfs.ts --multi-node=newest also test/multinode on 4 nodes of the newest
//                                                                release only
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareReleases } from '../src/rustfs';
import { rustfsBinaries, startRustfs } from '../test/support/rustfs-binaries';
import { MULTI_NODE_DIR } from './test-lanes.mjs';

const root = path.join(__dirname, '..');
// CI lays the release binaries beside the clone; ROTATOR_RUSTFS_RELEASES_DIR points elsewhere.
const SHARED = process.env.ROTATOR_RUSTFS_RELEASES_DIR ?? path.join(root, '..', 'shared', 'rustfs');
const MINIO_ROUND = 'the MinIO round (npm test)';

/**
 * What a RustFS release can change: the admin dialects and their error shapes, capability
 * detection, zone identities and the IAM read-back, BootstrapCluster, overlap and in-place
 * RotateZone, RotateRoot (with the IAM rebuild where the release loses IAM) and one rollback,
 * a zone cancel with its audit, and the demo's --json summary. Each workflow completes at least
 * once per release. `tests` names the tests of a file that run here (all when absent); the
 * others test logic that does not depend on the store (dry runs, RBAC refusals, an unreachable
 * admin API, worker restarts, rollout waits) and run in the MinIO round, which this prints.
 */
const ROUND: { file: string; tests?: string[] }[] = [
  { file: 'test/integration/rustfs-admin.test.ts' },
  { file: 'test/integration/rustfs-madmin-live.test.ts' },
  { file: 'test/integration/rustfs-store-identity.test.ts' },
  {
    file: 'test/e2e/bootstrap-and-zone.test.ts',
    tests: [
      'bootstrap from an empty store and cluster creates every zone, restarts serving consumers, smokes',
      're-running bootstrap changes nothing',
      'overlap rotation: zero failed requests for a consumer, previous key valid until revokeNow and not after',
      'in-place rotation keeps the seed contract and shows its failure window',
      'bootstrap with rotate: true rotates every zone through RotateZone children',
    ],
  },
  {
    file: 'test/e2e/zone-failures.test.ts',
    tests: [
      'smoke mismatch (the zone user gained a broader policy through a group) → new key removed, Secret untouched',
    ],
  },
  {
    file: 'test/e2e/root-rotation.test.ts',
    tests: [
      'happy path: approval gate, restart, only the new root works, every zone still works unrestarted',
      'restart slower than the window → paused → rollback: the old root works again, every zone works',
    ],
  },
  {
    file: 'test/e2e/cancel.test.ts',
    tests: [
      'a RotateZone in its grace wait: consumers back on the previous key, new key deleted, CANCELED, audit clean',
    ],
  },
  { file: 'test/e2e/demo.test.ts', tests: ['--json --exit: the summary as one document'] },
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const roundArgs = () =>
  ROUND.map(({ file, tests }) => (tests ? `${file}::^(?:${tests.map(escape).join('|')})$` : file));

/**
 * The multi-node round: every file of test/multinode, on a sandbox whose store is a 4-node
 * distributed cluster of the release (run-tests starts it so for these files). They run only
 * here: the MinIO test command has one store process and does not list test/multinode.
 */
const multiNodeArgs = () =>
  fs
    .readdirSync(path.join(root, MULTI_NODE_DIR))
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => `${MULTI_NODE_DIR}/${f}`);

const log = (msg: string) => console.error(`[test-rustfs ${new Date().toISOString().slice(11, 19)}] ${msg}`);

interface Summary {
  pass: number;
  fail: number;
  skipped: number;
  /** Each failed file by its failed tests (run-tests decides what failed). */
  failures: string[];
  files: { name: string; notRun: string[] }[];
}

/**
 * One round's run-tests, its output lines prefixed with the round (rounds run side by side) and
 * kept whole: a line is written only once it ends.
 */
function runRound(
  bin: string | undefined,
  label: string,
  files: string[],
  summaryFile: string,
): Promise<number> {
  // No binary: the default store (MinIO), as npm test runs it.
  const env = { ...process.env };
  delete env.ROTATOR_STORE_BIN;
  delete env.ROTATOR_RUSTFS_BIN;
  if (bin) Object.assign(env, { ROTATOR_STORE_BIN: bin, ROTATOR_RUSTFS_BIN: bin });
  const child = spawn(process.execPath, ['scripts/run-tests.mjs', ...files, '--summary', summaryFile], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  for (const [from, to] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    let rest = '';
    from.setEncoding('utf8');
    from.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) to.write(`[${label}] ${line}\n`);
    });
    from.on('end', () => rest && to.write(`[${label}] ${rest}\n`));
  }
  return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
}

function releases(only: string[]) {
  if (!fs.existsSync(SHARED)) return [];
  const dirs = [SHARED, path.join(SHARED, 'next')].filter(
    (d) => fs.existsSync(d) && fs.readdirSync(d).some((f) => /^rustfs-.+\.xz$/.test(f)),
  );
  const all = dirs.flatMap((d) => rustfsBinaries(d));
  const unknown = only.filter((t) => !all.some((b) => b.tag === t));
  if (unknown.length)
    throw new Error(
      `no RustFS release ${unknown.join(', ')} in ${SHARED} (have ${all.map((b) => b.tag).join(', ')})`,
    );
  return only.length ? all.filter((b) => only.includes(b.tag)) : all;
}

interface Round {
  tag: string;
  /** Undefined for the MinIO round. */
  bin?: string;
  name: 'one node' | '4 nodes';
  files: string[];
}

async function runOne(r: Round): Promise<{ line: string; ok: boolean; failures: string[] }> {
  const since = Date.now();
  const label = r.bin ? `RustFS ${r.tag} ${r.name}` : `${r.tag} ${r.name}`;
  log(`==== ${label}: started ====`);
  const summaryFile = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-rustfs-round-')),
    'summary.json',
  );
  const code = await runRound(r.bin, label, r.files, summaryFile);
  const took = `${Math.round((Date.now() - since) / 1000)} s`;
  const summary: Summary | undefined = fs.existsSync(summaryFile)
    ? (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as Summary)
    : undefined;
  const counts = summary ? `${summary.pass} passed, ${summary.fail} failed` : 'no summary';
  const notRun = summary?.files.flatMap((f) => f.notRun.map((t) => `${f.name} › ${t}`)) ?? [];
  const line = `${label}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`} — ${counts}, ${notRun.length} left to ${MINIO_ROUND} — in ${took}`;
  // What failed, named again under the closing summary: a CI log may keep only its tail.
  const failures = summary?.failures ?? [];
  log(line);
  if (notRun.length) log(`not in the ${label} round, run by ${MINIO_ROUND}:\n  ${notRun.join('\n  ')}`);
  return { line, ok: code === 0, failures };
}

/** The name that asks for the MinIO 4-node round among the releases on the command line. */
const MINIO = 'minio';

/**
 * The flag that adds the 4-node rounds: every release and MinIO's distributed mode, or with
 * `=newest` the newest release only.
 */
const MULTI_NODE_FLAG = '--multi-node';
const NEWEST = 'newest';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = args.find((a) => a === MULTI_NODE_FLAG || a.startsWith(`${MULTI_NODE_FLAG}=`));
  if (flag && flag !== MULTI_NODE_FLAG && flag !== `${MULTI_NODE_FLAG}=${NEWEST}`)
    throw new Error(
      `${flag}: say ${MULTI_NODE_FLAG} (every release and MinIO) or ${MULTI_NODE_FLAG}=${NEWEST}`,
    );
  const multiNode = flag === MULTI_NODE_FLAG ? 'every' : flag ? NEWEST : undefined;
  const asked = args.filter((a) => a !== flag);
  const bins = releases(asked.filter((t) => t !== MINIO));
  const newest = bins
    .map((b) => b.tag)
    .sort(compareReleases)
    .at(-1);
  const minio = multiNode === 'every' && (asked.length === 0 || asked.includes(MINIO));
  if (bins.length === 0 && !minio) {
    log(`${SHARED} holds no RustFS release: nothing to test on (CI provides it)`);
    return;
  }
  const since = Date.now();
  log(
    `RustFS releases: ${bins.map((b) => b.tag).join(', ') || 'none'}; ${ROUND.length} store-dependent suites each on one node, two rounds at a time` +
      (multiNode
        ? `; ${multiNodeArgs().length} on a 4-node store of ${multiNode === NEWEST ? newest : 'each'}${minio ? ', and on a 4-node MinIO' : ''}, one round after another`
        : ` (the 4-node rounds: ${MULTI_NODE_FLAG})`),
  );
  const results: string[] = [];
  const rounds: Round[] = [];
  for (const { tag, path: bin } of bins) {
    // A release that cannot start fails here, named, with its log; not as a hundred test failures.
    try {
      const probe = await startRustfs(bin, {
        root: { accessKey: 'probeadmin', secretKey: 'probe-secret-0000' },
      });
      await probe.stop();
    } catch (err) {
      results.push(`RustFS ${tag}: FAILED to start: ${(err as Error).message}`);
      log(results.at(-1)!);
      process.exitCode = 1;
      continue;
    }
    rounds.push({ tag, bin, name: 'one node', files: roundArgs() });
    if (multiNode === 'every' || (multiNode === NEWEST && tag === newest))
      rounds.push({ tag, bin, name: '4 nodes', files: multiNodeArgs() });
  }
  // MinIO's distributed mode on the same 4-node sandbox: the all-at-once path (its nodes must
  // agree on the root, so rolling is refused), which npm test's single MinIO process cannot show.
  if (minio) rounds.push({ tag: 'MinIO', name: '4 nodes', files: multiNodeArgs() });
  // Each round with its own sandbox on free ports: the one-node rounds two at a time (they mostly
  // wait on store restarts), then the 4-node rounds one after another, alone (a distributed
  // store beside other stacks starved its nodes: a node released after a held restart not seen
  // by its peers, rc.3's cluster health 503 for minutes).
  const done: Array<{ round: Round; line: string; ok: boolean; failures: string[] }> = [];
  const lane = async (queue: Round[]) => {
    for (let r = queue.shift(); r; r = queue.shift()) done.push({ round: r, ...(await runOne(r)) });
  };
  const oneNode = rounds.filter((x) => x.name === 'one node');
  await Promise.all([lane(oneNode), lane(oneNode)]);
  await lane(rounds.filter((x) => x.name === '4 nodes'));
  for (const r of rounds) {
    const d = done.find((x) => x.round === r)!;
    results.push(d.line, ...d.failures.map((f) => `  ✖ ${f}`));
    if (!d.ok) process.exitCode = 1;
  }
  log(`summary (${Math.round((Date.now() - since) / 1000)} s):\n  ${results.join('\n  ')}`);
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
