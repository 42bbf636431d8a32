// On-call's pause commands as subprocesses against a RotateRoot that really paused: the
// node agent (which plays the kubelet for the store) is told to hold the store's start
// past the restart window, until the test releases it. `status` shows why it waits and
// what answers it; `resume` (human and --json) waits another window; `rollback` restores
// the previous root; `resume` where it does not apply is refused with a non-zero exit code.
// PRIVATE (scripts/test-lanes.mjs): the root, the store, the node agent holding its start and
// the run lock on rotate-root are a dashi platform of this file's own
// (test/support/private-sandbox.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type Timeline } from '../../src/cli/history';
import { type SandboxState } from '../../src/sandbox/state';
import { type Credentials } from '../../src/rustfs';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowStatus } from '../../src/workflows/types';
import { json, runCli, startCliWorker, type CliFixture, type CliRun } from '../support/cli';
import { eventually, readSecretData } from '../support/kube';
import { collectSecretValues, nodeAgent } from '../support/rotator';
import { creds, adminWorks as adminWorksFor } from '../support/store';
import { privateSandbox, type PrivateSandbox } from '../support/private-sandbox';
import { getStack } from '../support/stack';
import { entryArgs } from '../support/build';

const shared = getStack();
let box: PrivateSandbox;
let stack: SandboxState;
let agent: ReturnType<typeof nodeAgent>;
let fx: CliFixture;
const cli = (...args: string[]) => runCli(args, fx.env);
const root = async () => creds(await readSecretData(stack, box.ns.platform, 'rustfs-root'));

const adminWorks = (c: Credentials) => adminWorksFor(stack, c);

/** The status query through the worker's own client: fast polling without a subprocess each time. */
async function waitPhase(phase: WorkflowStatus['phase'], timeoutMs = 90_000): Promise<WorkflowStatus> {
  return eventually(
    `rotate-root in phase ${phase}`,
    async () => {
      const s = await fx.worker.client.workflow.getHandle('rotate-root').query(statusQuery);
      return s.phase === phase ? s : undefined;
    },
    timeoutMs,
    200,
  );
}

/** `rotator <args>` started in the background (e.g. start-workflow --wait), awaited later. */
function background(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...entryArgs('cli'), ...args], {
      cwd: path.join(__dirname, '..', '..'),
      env: { ...process.env, ...fx.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('rotator status / resume / rollback on a paused RotateRoot', () => {
  const secrets = new Set<string>();
  before(async () => {
    box = await privateSandbox(shared, 'cli-pause');
    stack = box.state;
    agent = nodeAgent(stack);
    fx = await startCliWorker(stack, { grace: '0s', sandbox: box });
    const boot = await cli('start-workflow', 'BootstrapCluster', '--wait');
    assert.equal(boot.code, 0, boot.stderr);
  });
  beforeEach(() => agent.reset());
  after(async () => {
    await fx?.worker.client.workflow
      .getHandle('rotate-root')
      .terminate('cli pause test cleanup')
      .catch(() => undefined);
    await agent?.reset().catch(() => undefined);
    await fx?.close();
    await box?.close();
  });

  test('resume where it does not apply: no such workflow (4), awaiting approval (3), not running (3)', async () => {
    const missing = await cli('resume', 'no-such-root-rotation', '--json');
    assert.equal(missing.code, 4);
    assert.match(json<{ error: string }>(missing).error, /no workflow with ID "no-such-root-rotation"/);

    const started = await cli('start-workflow', 'RotateRoot', '--json');
    assert.equal(started.code, 0, started.stderr);
    await waitPhase('awaiting-approval');
    const early = await cli('resume', 'rotate-root', '--by', 'dave');
    assert.equal(early.code, 3, early.stderr);
    assert.match(
      early.stderr,
      /rotator: resume refused by rotate-root: .*resume is accepted only in phase "paused"; phase is "awaiting-approval".*Check: rotator status rotate-root/,
    );
    assert.equal(early.stdout, '');
    const earlyJson = await cli('rollback', 'rotate-root', '--json');
    assert.equal(earlyJson.code, 3);
    const doc = json<{ error: string; exitCode: number }>(earlyJson);
    assert.equal(doc.exitCode, 3);
    assert.match(doc.error, /rollback is accepted only in phase "paused"/);
    // Nothing happened to the run: still waiting for approval.
    assert.equal((await waitPhase('awaiting-approval')).phase, 'awaiting-approval');

    await fx.worker.client.workflow.getHandle('rotate-root').terminate('test: not approved');
    const late = await cli('resume', 'rotate-root');
    assert.equal(late.code, 3);
    assert.match(
      late.stderr,
      /rotate-root is not running \(TERMINATED\); resume applies to a running workflow/,
    );
  });

  test('paused twice: resume (human) waits another window; status shows the reason and the commands; resume --json; the rotation completes', async () => {
    const before = await root();
    secrets.add(before.secretKey);
    // The store's start is held until released below: the first window and the one after
    // the first resume both end with the store still down, however slow the CLI processes
    // started in between are.
    await agent.hold();
    const started = await cli(
      'start-workflow',
      'RotateRoot',
      '--approve',
      '--restart-timeout',
      '4s',
      '--pause-timeout',
      '10m',
      '--json',
    );
    assert.equal(started.code, 0, started.stderr);
    assert.deepEqual(json<{ input: object }>(started).input, {
      approve: true,
      restartTimeout: '4s',
      pauseTimeout: '10m',
    });
    await waitPhase('paused');
    const held = await agent.held();
    const resume = await cli('resume', 'rotate-root', '--by', 'dave', '--reason', 'image pull slow');
    assert.equal(resume.code, 0, resume.stderr);
    assert.match(resume.stdout, /^rotate-root: .*another restart window/);

    // Window 2 ends before the store is back: paused again.
    await eventually(
      'window 2',
      async () =>
        (await fx.worker.client.workflow.getHandle('rotate-root').query(statusQuery)).steps.some((s) =>
          s.name.startsWith('wait for the store with the new root (window 2'),
        ),
      30_000,
      200,
    );
    await waitPhase('paused');
    const status = await cli('status', 'rotate-root');
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /phase:\s+paused/);
    assert.match(
      status.stdout,
      /waiting: {3}.*did not come back with root sha256:[0-9a-f]{12} within 4s.*Automatic rollback in 10m unless answered/,
    );
    assert.match(status.stdout, /answer with:\n\s+rotator resume rotate-root --by <you>/);
    assert.match(status.stdout, /rotator rollback rotate-root --by <you>/);
    assert.match(status.stdout, /✓ resumed by dave/);
    assert.match(status.stdout, /✗ wait for the store with the new root \(window 2, 4s\)/);
    const statusJson = json<{ execution: string; status: WorkflowStatus }>(
      await cli('status', 'rotate-root', '--json'),
    );
    assert.equal(statusJson.execution, 'RUNNING');
    assert.equal(statusJson.status.phase, 'paused');
    assert.deepEqual(statusJson.status.awaiting, ['resume', 'rollback']);

    // Still the same start held: the store was down all through window 2.
    assert.equal((await agent.state()).held?.podUid, held.podUid);
    // The store comes back with the new root now; resume again and the next window sees it.
    await agent.release();
    const pending = await root();
    assert.notEqual(pending.secretKey, before.secretKey, 'the Secret holds the new root');
    await eventually('the store with the new root', async () => (await adminWorks(pending)) === true, 60_000);
    const resumeJson = await cli('resume', 'rotate-root', '--by', 'erin', '--json');
    assert.equal(resumeJson.code, 0, resumeJson.stderr);
    const r = json<{ workflowId: string; update: string; by: string; response: string }>(resumeJson);
    assert.equal(r.workflowId, 'rotate-root');
    assert.equal(r.update, 'resume');
    assert.equal(r.by, 'erin');
    assert.match(r.response, /another restart window/);

    const result = await fx.worker.client.workflow.getHandle('rotate-root').result();
    assert.equal(result.outcome, 'completed');
    assert.equal(await adminWorks(before), 'AuthenticationFailed', 'the old root no longer works');

    const done = await cli('status', 'rotate-root');
    assert.match(done.stdout, /execution: COMPLETED/);
    assert.match(done.stdout, /✓ resumed by erin/);
    assert.match(done.stdout, /✓ wait for the store with the new root \(window 3, 4s\)/);
    const notPaused = await cli('resume', 'rotate-root', '--json');
    assert.equal(notPaused.code, 3);
    assert.match(json<{ error: string }>(notPaused).error, /is not running \(COMPLETED\)/);

    const h = await cli('history', 'rotate-root');
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /\[pause\] PAUSED: waiting for resume or rollback .* ended by resume from dave/);
    assert.match(h.stdout, /\[pause\] PAUSED: waiting for resume or rollback .* ended by resume from erin/);
    assert.match(h.stdout, /\[update\] update resume\s+\(by dave, reason: image pull slow\)/);
    assert.match(h.stdout, /RestartWindowExceeded/);
    await collectSecretValues(stack, secrets, box.namespaces);
    for (const s of secrets) {
      for (const out of [status.stdout, h.stdout, resume.stdout, resumeJson.stdout, done.stdout])
        assert.ok(!out.includes(s), 'a secret value appears in CLI output');
    }
  });

  test('paused → rollback: the previous root is restored and works; start-workflow --wait exits 3 "rolled back"', async () => {
    const before = await root();
    // Held until the rollback's restart replaces the pod.
    await agent.hold();
    const waiting = background([
      'start-workflow',
      'RotateRoot',
      '--approve',
      '--restart-timeout',
      '3s',
      '--pause-timeout',
      '10m',
      '--wait',
    ]);
    await waitPhase('paused');
    await agent.held();
    const status = await cli('status', 'rotate-root');
    assert.match(status.stdout, /waiting: {3}.*within 3s/);

    const rollback = await cli('rollback', 'rotate-root', '--by', 'frank', '--reason', 'crash loop');
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.match(rollback.stdout, /^rotate-root: .*rolling back/);

    const waited = await waiting;
    assert.equal(waited.code, 3, waited.stderr);
    assert.match(waited.stderr, /rotate-root was rolled back: .*rollback requested by frank: crash loop/);
    assert.match(waited.stderr, /inspect: rotator history rotate-root/);

    const after = await root();
    assert.equal(after.secretKey, before.secretKey, 'the previous root is back in the Secret');
    await eventually('the old root to work again', async () => (await adminWorks(before)) === true, 60_000);

    const s = json<{ execution: string; status?: WorkflowStatus; failure?: string }>(
      await cli('status', 'rotate-root', '--json'),
    );
    assert.equal(s.execution, 'FAILED');
    assert.equal(s.status?.phase, 'rolled-back');
    assert.match(s.failure!, /rollback requested by frank/);

    const t = json<Timeline>(await cli('history', 'rotate-root', '--json'));
    assert.equal(t.outcome, 'failed');
    const pause = t.entries.find((e) => e.kind === 'pause');
    assert.ok(pause, 'the pause is in the timeline');
    assert.match(pause.detail!, /ended by rollback from frank/);
    assert.ok(
      t.entries.some((e) => e.kind === 'update' && e.name === 'update rollback' && e.reason === 'crash loop'),
    );
  });
});
