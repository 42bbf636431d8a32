// Every CLI command as a subprocess against the real stack, human and --json output,
// exit codes and bad inputs. The worker is src/worker/main.ts's own startWorker, in-process.
// PRIVATE (scripts/test-lanes.mjs): the zones, the root it rotates, the store and its node
// agent, the run locks and the Temporal namespace are a dashi platform of this file's own
// (test/support/private-sandbox.ts); the seed's names (dashi-serving, …) are its private ones.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type NamespaceUse } from '../../src/audit/by-namespace';
import { type AuditReport } from '../../src/cli/audit';
import { type Timeline } from '../../src/cli/history';
import { type SandboxState } from '../../src/sandbox/state';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowStatus } from '../../src/workflows/types';
import { json, runCli, startCliWorker, type CliFixture } from '../support/cli';
import { adminKube, eventually, readSecretData, uniqueName } from '../support/kube';
import { privateSandbox, type PrivateSandbox } from '../support/private-sandbox';
import { getStack } from '../support/stack';
import { creds, storeAdmin } from '../support/store';
import { entryArgs } from '../support/build';

const shared = getStack();
let box: PrivateSandbox;
let stack: SandboxState;
let fx: CliFixture;
/** The private name of a seed namespace or work pool (dashi-serving, dashi-default, …). */
const ns = (seed: 'dashi-platform' | 'dashi-data' | 'dashi-serving' | 'dashi-default') => box.rename(seed);
/** `r` with the seed's names replaced by the private ones. */
const re = (r: RegExp) => new RegExp(box.rename(r.source), r.flags);
const cli = (...args: string[]) => runCli(args, fx.env);

/** The status query through the worker's own client (fast; the CLI's status is tested elsewhere). */
async function phaseOf(id: string): Promise<string | undefined> {
  return fx.worker.client.workflow
    .getHandle(id)
    .query(statusQuery)
    .then((s) => s.phase)
    .catch(() => undefined);
}

async function statusOf(id: string) {
  const r = await cli('status', id, '--json');
  assert.equal(r.code, 0, r.stderr);
  return json<{ execution: string; status?: WorkflowStatus }>(r);
}

describe('rotator CLI against the real stack', () => {
  before(async () => {
    box = await privateSandbox(shared, 'cli-commands');
    stack = box.state;
    fx = await startCliWorker(stack, { grace: '1s', restartTimeout: '60s', sandbox: box });
  });
  after(async () => {
    await fx?.close();
    await box?.close();
  });

  test('bad inputs are refused with exit 2 before anything starts', async () => {
    const unknownWf = await cli('start-workflow', 'RotateZones', '--zone', 'serving');
    assert.equal(unknownWf.code, 2);
    assert.match(unknownWf.stderr, /unknown workflow "RotateZones".*Did you mean "RotateZone"/);
    const unknownZone = await cli('start-workflow', 'RotateZone', '--zone', 'servng', '--json');
    assert.equal(unknownZone.code, 2);
    assert.match(json<{ error: string }>(unknownZone).error, /Unknown zone "servng"/);
    assert.equal(json<{ exitCode: number }>(unknownZone).exitCode, 2);
    const badCron = await cli('schedule', 'create', '--cron', '0 3 32 * *');
    assert.equal(badCron.code, 2);
    assert.match(badCron.stderr, /invalid --cron: day-of-month 32 is out of range 1-31/);
    const badFlag = await cli('start-workflow', 'BootstrapCluster', '--no-such-flag');
    assert.equal(badFlag.code, 2);
    const planZone = await cli('plan', 'RotateZone', '--zone', 'nope');
    assert.equal(planZone.code, 2);
    const notFound = await cli('status', 'no-such-workflow-id');
    assert.equal(notFound.code, 4);
    assert.match(notFound.stderr, /no workflow with ID "no-such-workflow-id"/);
    const noInventory = await runCli(['start-workflow', 'BootstrapCluster'], {
      ROTATOR_SANDBOX_STATE: '',
      ROTATOR_CONFIG: '',
    });
    assert.equal(noInventory.code, 2);
    assert.match(noInventory.stderr, /no inventory/);
    // Nothing was started by any of these.
    const { client } = fx.worker;
    for await (const wf of client.workflow.list({ query: `TaskQueue = '${fx.taskQueue}'` }))
      assert.fail(`started ${wf.workflowId}`);
  });

  test('start-workflow BootstrapCluster --wait: human result; the cluster is bootstrapped', async () => {
    const r = await cli('start-workflow', 'BootstrapCluster', '--wait');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /BootstrapCluster: completed — bootstrap: 3 zone\(s\) ensured and smoked/);
    assert.match(r.stdout, /history: rotator history bootstrap-cluster/);
  });

  test('plan: human and JSON, read-only', async () => {
    const before = await readSecretData(stack, ns('dashi-serving'), 'dashi-rustfs-serving');
    const human = await cli('plan', 'RotateZone', '--zone', 'serving', '--strategy', 'in-place');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /Plan: RotateZone zone serving \(strategy in-place\)/);
    assert.match(human.stdout, /Expected downtime: consumers fail/);
    const j = json<{ plan: { workflow: string; actions: Array<{ action: string }> } }>(
      await cli('plan', 'RotateRoot', '--json'),
    );
    assert.equal(j.plan.workflow, 'RotateRoot');
    assert.ok(j.plan.actions.some((a) => a.action === 'restart'));
    assert.deepEqual(await readSecretData(stack, ns('dashi-serving'), 'dashi-rustfs-serving'), before);
  });

  test('start-workflow RotateZone (no wait), already-running refusal, status, revoke-now, history', async () => {
    const started = await cli('start-workflow', 'RotateZone', '--zone', 'serving', '--grace', '1h', '--json');
    assert.equal(started.code, 0, started.stderr);
    const s = json<{ workflowId: string; input: object; webUi: string }>(started);
    assert.equal(s.workflowId, 'rotate-zone-serving');
    assert.deepEqual(s.input, { zone: 'serving', grace: '1h' });
    assert.ok(
      s.webUi.endsWith(`/namespaces/${stack.temporal.namespace}/workflows/rotate-zone-serving`),
      s.webUi,
    );

    const again = await cli('start-workflow', 'RotateZone', '--zone', 'serving');
    assert.equal(again.code, 5);
    assert.match(again.stderr, /rotate-zone-serving is already running.*rotator status rotate-zone-serving/);

    // Waited for through the worker's client (a CLI process per poll costs a second of CPU each);
    // the CLI's status then says the same, in JSON and for humans.
    await eventually(
      'the grace period',
      async () => (await phaseOf('rotate-zone-serving')) === 'waiting-grace',
      120_000,
      200,
    );
    assert.equal((await statusOf('rotate-zone-serving')).status?.phase, 'waiting-grace');
    const human = await cli('status', 'rotate-zone-serving');
    assert.match(human.stdout, /phase:\s+waiting-grace/);
    assert.match(human.stdout, /rotator revoke-now rotate-zone-serving/);
    assert.match(human.stdout, re(/✓ promote: patch Secret dashi-serving\/dashi-rustfs-serving/));

    const approveWrong = await cli('approve', 'rotate-zone-serving', '--by', 'alice');
    assert.equal(approveWrong.code, 3, 'RotateZone has no approve handler');

    const revoke = await cli(
      'revoke-now',
      'rotate-zone-serving',
      '--by',
      'alice',
      '--reason',
      'cli test',
      '--json',
    );
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.match(json<{ response: string }>(revoke).response, /revoked now.*alice/);
    await fx.worker.client.workflow.getHandle('rotate-zone-serving').result();
    assert.equal((await statusOf('rotate-zone-serving')).execution, 'COMPLETED');

    const late = await cli('revoke-now', 'rotate-zone-serving');
    assert.equal(late.code, 3);
    assert.match(late.stderr, /is not running \(COMPLETED\)/);

    const h = await cli('history', 'rotate-zone-serving');
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /triggered by: rotator CLI/);
    assert.match(h.stdout, /\[update\] update revokeNow\s+\(by alice, reason: cli test\)/);
    assert.match(
      h.stdout,
      /\[grace\] grace period: the previous key stays valid .* ended by revokeNow from alice/,
    );
    // An activity shows its arguments; a local activity (a marker in history) only its type.
    assert.match(h.stdout, /✓ smokeZone(\("serving", "pending"\)| \(local\))/);
    const t = json<Timeline>(await cli('history', 'rotate-zone-serving', '--json'));
    assert.equal(t.trigger.kind, 'cli');
    assert.equal(t.outcome, 'completed');
    assert.deepEqual(t.input, { zone: 'serving', grace: '1h' }, 'input decoded through the shared codec');
    const activity = t.entries.find((e) => e.kind === 'activity' && e.name.startsWith('promoteZonePending'))!;
    assert.equal(activity.state, 'completed');
    assert.equal(activity.attempts, 1);
    assert.ok(activity.durationMs! >= 0);
    assert.ok(t.entries.some((e) => e.kind === 'update' && e.by === 'alice' && e.reason === 'cli test'));
  });

  test('RotateRoot --follow prints steps as plain lines; approve from another process; history shows who approved', async () => {
    const child = spawn(process.execPath, [...entryArgs('cli'), 'start-workflow', 'RotateRoot', '--follow'], {
      cwd: path.join(__dirname, '..', '..'),
      env: { ...process.env, ...fx.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
    try {
      // Approved once the follower has printed the gate, which the assertions below read; the
      // run's phase alone came first once and the follower, polling, never saw the gate.
      await eventually(
        'the approval gate, as --follow prints it',
        async () => out.includes('phase awaiting-approval'),
        60_000,
        200,
      );
      assert.equal(await phaseOf('rotate-root'), 'awaiting-approval');
      const approve = await cli('approve', 'rotate-root', '--by', 'bob', '--reason', 'change 42');
      assert.equal(approve.code, 0, approve.stderr);
      assert.match(approve.stdout, /rotate-root: root rotation approved by bob/);
      assert.equal(await exited, 0, err);
    } finally {
      child.kill('SIGTERM');
    }
    assert.ok(!out.includes('\x1b['), 'no terminal control codes when not a TTY');
    assert.match(out, /phase awaiting-approval: root rotation needs approval/);
    assert.match(out, /rotator approve rotate-root --by <you>/);
    assert.match(out, /✓ approved by bob: change 42/);
    assert.match(out, /✓ patch root Secret/);
    assert.match(out, /RotateRoot: completed — root rotated: sha256:[0-9a-f]{12} → sha256:[0-9a-f]{12}/);

    const t = json<Timeline>(await cli('history', 'rotate-root', '--json'));
    const gate = t.entries.find((e) => e.kind === 'approval');
    assert.ok(gate, 'the approval wait is labelled');
    assert.match(gate.detail!, /ended by approve from bob/);
    assert.ok(t.entries.some((e) => e.kind === 'update' && e.name === 'update approve' && e.by === 'bob'));
  });

  test('a run that fails exits 3 with the cause and the history command', async () => {
    const r = await cli('start-workflow', 'RotateRoot', '--approval-timeout', '1s', '--wait');
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /rotate-root failed: .*not approved within 1s; nothing was changed/);
    assert.match(r.stderr, /inspect: rotator history rotate-root/);
  });

  test('start-workflow --follow --json ends with one JSON document including the steps', async () => {
    const r = await cli(
      'start-workflow',
      'RotateZone',
      '--zone',
      'ingest',
      '--grace',
      '0s',
      '--follow',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = json<{
      status: string;
      result: { outcome: string };
      steps: Array<{ name: string; state: string }>;
    }>(r);
    assert.equal(doc.result.outcome, 'completed');
    assert.ok(doc.steps.some((s) => s.name === 'revoke previous credential' && s.state === 'done'));
  });

  test('audit --by-namespace: each workload of the inventory namespaces and the Secrets it reads', async () => {
    const r = await cli('audit', '--by-namespace', '--json');
    assert.equal(r.code, 0, r.stderr);
    const view = json<NamespaceUse[]>(r);
    assert.deepEqual(
      view.map((n) => n.namespace),
      [ns('dashi-data'), ns('dashi-platform'), ns('dashi-serving')],
    );
    const uses = (ns: string, workload: string) =>
      view.find((n) => n.namespace === ns)!.workloads.find((w) => w.workload === workload)?.secrets;
    assert.deepEqual(uses(ns('dashi-serving'), 'Deployment/titiler'), [
      { secret: 'dashi-rustfs-serving', via: ['envFrom:titiler'], managed: 'zone serving' },
    ]);
    assert.deepEqual(
      uses(ns('dashi-platform'), 'StatefulSet/rustfs')!.map((s) => [s.secret, s.managed, s.via.length]),
      [['rustfs-root', 'root', 2]],
    );
    const pool = view
      .find((n) => n.namespace === ns('dashi-data'))!
      .workloads.find((w) => w.workload === `WorkPool/${ns('dashi-default')}`);
    assert.ok(pool, "the pipeline zone's work pool is listed under its Secret's namespace");
    assert.deepEqual(pool.literals, []);

    const human = await cli('audit', '--by-namespace', '--kube-namespace', ns('dashi-serving'));
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, re(/^=== dashi-serving ===$/m));
    assert.doesNotMatch(human.stdout, re(/=== dashi-data ===/));
    assert.match(human.stdout, /Deployment\/titiler +dashi-rustfs-serving +zone serving +envFrom:titiler/);

    const unknown = await cli('audit', '--by-namespace', '--kube-namespace', 'no-such-namespace');
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      re(/namespace no-such-namespace does not exist .*dashi-data, dashi-platform, dashi-serving/),
    );
    const alone = await cli('audit', '--kube-namespace', ns('dashi-serving'));
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--kube-namespace goes with --by-namespace/);
  });

  test('audit: who reads what, and drift/violations with exit 6', async () => {
    const clean = await cli('audit', '--json');
    const report = json<AuditReport>(clean);
    for (const s of report.secrets) assert.equal(s.authenticates, true, `${s.secret} authenticates`);
    const serving = report.secrets.find((s) => s.zone === 'serving')!;
    assert.ok(serving.workloads.some((w) => w.startsWith(`Deployment/${ns('dashi-serving')}/titiler`)));
    const reader = report.users.find((u) => u.user === 'dashi-serving-reader')!;
    assert.equal(reader.zone, 'serving');
    assert.deepEqual(
      reader.access.map((a) => a.bucket),
      ['curated', 'processed'],
    );
    assert.ok(
      reader.serviceAccounts.some((sa) => sa.heldBy === `Secret ${ns('dashi-serving')}/dashi-rustfs-serving`),
    );
    assert.ok(!report.findings.some((f) => f.severity === 'violation'), JSON.stringify(report.findings));
    assert.equal(report.root.workloads.join(), `StatefulSet/${ns('dashi-platform')}/rustfs`);
    // The sandbox's inventory applies the store's NetworkPolicy; every consumer is admitted by it.
    assert.equal(report.network.checked, true, report.network.note);
    assert.deepEqual(report.network.storePolicies, [`${ns('dashi-platform')}/rotator-store-access`]);
    assert.deepEqual(report.network.findings, []);

    // Drift and a violation: a stray store user, a zone Secret whose key is dead, a pod spec holding root.
    const { core, apps } = adminKube(stack);
    const stray = uniqueName('stray-user');
    const root = await readSecretData(stack, ns('dashi-platform'), 'rustfs-root');
    const admin = storeAdmin(stack, creds(root));
    await admin.addUser(stray, 'stray-secret-key-12345');
    const deadSecret = uniqueName('audit-dead');
    await core.createNamespacedSecret({
      namespace: ns('dashi-serving'),
      body: {
        metadata: { name: deadSecret },
        stringData: {
          'access-key': 'NOSUCHKEY123',
          'secret-key': 'nope-nope-nope-nope',
          endpoint: stack.store.endpoint,
        },
      },
    });
    const intruder = uniqueName('root-reader');
    await apps.createNamespacedDeployment({
      namespace: ns('dashi-platform'),
      body: {
        metadata: { name: intruder },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: intruder } },
          template: {
            metadata: { labels: { app: intruder } },
            spec: {
              containers: [
                { name: 'app', image: 'busybox', envFrom: [{ secretRef: { name: 'rustfs-root' } }] },
              ],
            },
          },
        },
      },
    });
    const inventory =
      fs.readFileSync(fx.inventoryFile, 'utf8') +
      `\n  - name: dead\n    user: dead-zone-user\n    policy:\n      readOnly: [processed]\n    secret:\n      namespace: ${ns('dashi-serving')}\n      name: ${deadSecret}\n    consumers: []\n`;
    const inventoryFile = path.join(fx.dir, 'audit-inventory.yaml');
    fs.writeFileSync(inventoryFile, inventory);
    try {
      const human = await cli('audit', '--config', inventoryFile);
      assert.equal(human.code, 6, human.stderr);
      assert.match(human.stdout, /store users → policies → buckets\/actions/);
      assert.match(human.stdout, /dashi-serving-reader \[enabled\] zone serving policies: rotator-serving/);
      assert.match(
        human.stdout,
        new RegExp(
          box.rename(
            `VIOLATION: .*Deployment/dashi-platform/${intruder}.*references the root Secret dashi-platform/rustfs-root`,
          ),
        ),
      );
      assert.match(human.stdout, new RegExp(`DRIFT: no inventory zone owns user ${stray}`));
      assert.match(human.stdout, new RegExp(`DRIFT: its key NOSUCHKEY123 .* no longer authenticates`));
      const j = json<AuditReport>(await cli('audit', '--config', inventoryFile, '--json'));
      assert.equal(j.secrets.find((s) => s.zone === 'dead')?.authenticates, false);
    } finally {
      await admin.removeUser(stray);
      await core.deleteNamespacedSecret({ namespace: ns('dashi-serving'), name: deadSecret });
      await apps.deleteNamespacedDeployment({ namespace: ns('dashi-platform'), name: intruder });
    }
  });
});
