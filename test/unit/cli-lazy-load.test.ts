// A CLI process loads only the module of the command it runs: `rotator status` is a Temporal
// client, and must not pay for the worker SDK's native bridge or the store's S3 client that
// other commands load (each CLI call is its own process).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { entryArgs } from '../support/build';

const PRELOAD = path.join(__dirname, '..', 'support', 'loaded-modules.cjs');

function loadedBy(args: string[]): string[] {
  const r = spawnSync(process.execPath, ['--require', PRELOAD, ...entryArgs('cli'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
  });
  assert.equal(r.status, 0, `rotator ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED-MODULES '));
  assert.ok(line, `no module list on stderr: ${r.stderr}`);
  return JSON.parse(line.slice('LOADED-MODULES '.length)) as string[];
}

const has = (files: string[], pkg: string) =>
  files.some((f) => f.includes(`${path.sep}node_modules${path.sep}${pkg}${path.sep}`));

test('`rotator status` loads the Temporal client, not the worker SDK or the S3 client', () => {
  const files = loadedBy(['status', '--help']);
  assert.ok(has(files, '@temporalio/client'), 'status connects through @temporalio/client');
  for (const pkg of ['@temporalio/worker', '@temporalio/core-bridge', '@aws-sdk/client-s3'])
    assert.ok(!has(files, pkg), `status loaded ${pkg}`);
});

test('the whole program (`rotator --help`) still has every command, with what they load', () => {
  const files = loadedBy(['--help']);
  // The detector sees what a command needs: the demo runs a worker.
  assert.ok(has(files, '@temporalio/worker'));
});
