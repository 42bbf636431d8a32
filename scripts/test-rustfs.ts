// The store-dependent suites again on every real RustFS release beside the repository
// (../shared/rustfs/rustfs-<tag>.xz), one sandbox per release with that server as its store.
// Run by .ci/run after the README's test command; a user's clone has no ../shared and skips it.
//
//   node --import tsx scripts/test-rustfs.ts
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { rustfsBinaries, startRustfs } from '../test/support/rustfs-binaries';

const root = path.join(__dirname, '..');
const SHARED = path.join(root, '..', 'shared', 'rustfs');

/**
 * Every store-dependent suite: the admin client (every dialect the release serves), store
 * identities, the store wait, the workflow e2e files and the demo. Racing runs are left to
 * the README's round: run locks live in Kubernetes and Temporal, and the store calls they make
 * are the ones the other suites make; it took 199 s on alpha.85 alone, in a CI run that must
 * end within 90 minutes.
 */
const STORE_SUITES = [
  'test/integration/rustfs-admin.test.ts',
  'test/integration/rustfs-madmin-live.test.ts',
  'test/integration/rustfs-store-identity.test.ts',
  'test/integration/store-wait.test.ts',
  'test/e2e/bootstrap-and-zone.test.ts',
  'test/e2e/zone-failures.test.ts',
  'test/e2e/root-rotation.test.ts',
  'test/e2e/cancel.test.ts',
  'test/e2e/demo.test.ts',
];

const log = (msg: string) => console.error(`[test-rustfs] ${msg}`);

function runSuites(bin: string): Promise<number> {
  const child = spawn(process.execPath, ['scripts/run-tests.mjs', ...STORE_SUITES], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ROTATOR_STORE_BIN: bin, ROTATOR_RUSTFS_BIN: bin },
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

async function main(): Promise<void> {
  if (!fs.existsSync(SHARED)) {
    log(`${SHARED} does not exist: no RustFS release to test on (CI provides it)`);
    return;
  }
  const results: string[] = [];
  for (const { tag, path: bin } of rustfsBinaries(SHARED)) {
    const since = Date.now();
    log(`==== RustFS ${tag} (${bin}): ${STORE_SUITES.length} store-dependent suites ====`);
    // A binary that cannot start fails here with its log, not as a hundred test failures.
    const probe = await startRustfs(bin, {
      root: { accessKey: 'probeadmin', secretKey: 'probe-secret-0000' },
    });
    await probe.stop();
    const code = await runSuites(bin);
    const took = `${Math.round((Date.now() - since) / 1000)} s`;
    results.push(`RustFS ${tag}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${took}`);
    log(results.at(-1)!);
    if (code !== 0) process.exitCode = 1;
  }
  log(`summary:\n  ${results.join('\n  ')}`);
}

main().catch((err: unknown) => {
  log(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
