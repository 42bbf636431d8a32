// src/worker/main.ts as its own process against the real stack: it starts, serves a run,
// logs JSON without secrets, and drains on SIGTERM and exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { describe, test } from 'node:test';
import { json, runCli } from '../support/cli';
import { eventually, readSecretData } from '../support/kube';
import { getStack } from '../support/stack';

const stack = getStack();

describe('worker process', () => {
  test('runs a plan, logs structured lines with no secret, drains on SIGTERM', async () => {
    const taskQueue = `worker-proc-${randomBytes(3).toString('hex')}`;
    const apiKeyLike = randomBytes(16).toString('hex');
    const env = {
      ...process.env,
      ROTATOR_SANDBOX_STATE: process.env.ROTATOR_SANDBOX_STATE,
      TEMPORAL_TASK_QUEUE: taskQueue,
      ROTATOR_CODEC_KEY: randomBytes(32).toString('base64'),
      ROTATOR_SHUTDOWN_GRACE: '5s',
      UNRELATED_SECRET: apiKeyLike,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
      cwd: path.join(__dirname, '..', '..'),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stderr.on('data', (d: Buffer) => (logs += d.toString()));
    child.stdout.on('data', (d: Buffer) => (logs += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    try {
      await eventually('worker started', async () => logs.includes('"msg":"worker started"'), 60_000, 200);
      const plan = await runCli(['plan', 'BootstrapCluster', '--json'], {
        TEMPORAL_TASK_QUEUE: taskQueue,
        ROTATOR_CODEC_KEY: env.ROTATOR_CODEC_KEY,
      });
      assert.equal(plan.code, 0, plan.stderr);
      assert.equal(json<{ plan: { workflow: string } }>(plan).plan.workflow, 'BootstrapCluster');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, logs);
    const lines = logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; level: string });
    const msgs = lines.map((l) => l.msg);
    assert.ok(msgs.includes('worker started'));
    assert.ok(msgs.includes('signal received, shutting down'));
    assert.ok(msgs.includes('worker stopped'));
    const root = await readSecretData(stack, 'dashi-platform', 'rustfs-root');
    assert.ok(!logs.includes(root['secret-key']!), 'the root secret never appears in logs');
    assert.ok(!logs.includes(env.ROTATOR_CODEC_KEY), 'the codec key never appears in logs');
  });
});
