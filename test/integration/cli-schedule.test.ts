// The schedule: created, paused/unpaused (reflected in describe), triggered, its run
// completes (every zone rotated), history says it came from the schedule; then deleted.
// PRIVATE (scripts/test-lanes.mjs): the schedule, its runs and the zones they rotate live in a
// dashi platform of this file's own (test/support/private-sandbox.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Timeline } from '../../src/cli/history';
import { json, runCli, startCliWorker, type CliFixture } from '../support/cli';
import { eventually, uniqueName } from '../support/kube';
import { privateSandbox, type PrivateSandbox } from '../support/private-sandbox';
import { getStack } from '../support/stack';

const shared = getStack();
let box: PrivateSandbox;
let fx: CliFixture;
const id = uniqueName('rotator-test-schedule');
const cli = (...args: string[]) => runCli(args, fx.env);

interface Described {
  scheduleId: string;
  cron: string;
  workflowType: string;
  input: unknown;
  overlap: string;
  pauseOnFailure: boolean;
  paused: boolean;
  note?: string;
  recentRuns: Array<{ workflowId: string; status: string }>;
}

describe('rotator schedule against the real stack', () => {
  before(async () => {
    box = await privateSandbox(shared, 'cli-schedule');
    fx = await startCliWorker(box.state, { grace: '0s', sandbox: box });
    // The scheduled rotation needs bootstrapped zones (the cluster starts empty).
    const boot = await cli('start-workflow', 'BootstrapCluster', '--wait');
    assert.equal(boot.code, 0, boot.stderr);
  });
  after(async () => {
    if (fx) await cli('schedule', 'delete', id);
    await fx?.close();
    await box?.close();
  });

  test('bad cron and unknown workflow are refused; nothing is created', async () => {
    const cron = await cli('schedule', 'create', '--id', id, '--cron', '0 3 1 * * *', '--json');
    assert.equal(cron.code, 2);
    assert.match(json<{ error: string }>(cron).error, /invalid --cron: "0 3 1 \* \* \*" has 6 fields/);
    const wf = await cli('schedule', 'create', '--id', id, '--workflow', 'RotateEverything');
    assert.equal(wf.code, 2);
    assert.match(wf.stderr, /unknown workflow "RotateEverything"/);
    const missing = await cli('schedule', 'describe', id);
    assert.equal(missing.code, 4);
  });

  test('create with the defaults: monthly BootstrapCluster {rotate: true}, overlap SKIP, a failed run does not pause it', async () => {
    const r = await cli('schedule', 'create', '--id', id, '--paused');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`schedule ${id}  \\[PAUSED\\]`));
    assert.match(r.stdout, /when:\s+0 3 1 \* \* UTC/);
    assert.match(r.stdout, /runs:\s+BootstrapCluster \{"rotate":true\}/);
    assert.match(r.stdout, /policies:\s+overlap SKIP, pause on failure no/);
    const again = await cli('schedule', 'create', '--id', id);
    assert.equal(again.code, 5);
    const list = await cli('schedule', 'list');
    assert.match(list.stdout, new RegExp(`${id}\\s+BootstrapCluster\\s+paused`));
  });

  test('pause/unpause are reflected in describe', async () => {
    const un = json<Described>(await cli('schedule', 'unpause', id, '--note', 'go', '--json'));
    assert.equal(un.paused, false);
    let d = json<Described>(await cli('schedule', 'describe', id, '--json'));
    assert.equal(d.paused, false);
    assert.equal(d.note, 'go');
    assert.equal(d.overlap, 'SKIP');
    // A failed run must not stop the next one: that run reconciles what the failed one left.
    assert.equal(d.pauseOnFailure, false);
    assert.deepEqual(d.input, { rotate: true });
    assert.equal(d.cron, '0 3 1 * *');
    const p = await cli('schedule', 'pause', id, '--note', 'change freeze');
    assert.equal(p.code, 0, p.stderr);
    d = json<Described>(await cli('schedule', 'describe', id, '--json'));
    assert.equal(d.paused, true);
    assert.equal(d.note, 'change freeze');
  });

  test('trigger: the run rotates every zone and completes; history says it came from the schedule', async () => {
    const r = await cli('schedule', 'trigger', id, '--json');
    assert.equal(r.code, 0, r.stderr);
    const { workflowId } = json<{ workflowId: string }>(r);
    assert.match(workflowId, /^scheduled-bootstrap-cluster-/);
    const result = await fx.worker.client.workflow.getHandle(workflowId).result();
    assert.equal(result.outcome, 'completed');
    assert.equal(result.zones.length, 3);
    // The schedule records the action a moment after the run starts: waited for through the
    // worker's client (a CLI process per poll costs a second of CPU each), then described by the CLI.
    await eventually(
      "the run among the schedule's recent actions",
      async () =>
        (await fx.worker.client.schedule.getHandle(id).describe()).info.recentActions.some(
          (a) => a.action.workflow.workflowId === workflowId,
        ),
      30_000,
      200,
    );
    const d = json<Described>(await cli('schedule', 'describe', id, '--json'));
    assert.deepEqual(
      d.recentRuns.map((run) => [run.workflowId, run.status]),
      [[workflowId, 'COMPLETED']],
    );
    const human = await cli('schedule', 'describe', id);
    assert.match(human.stdout, new RegExp(`${workflowId}\\s+COMPLETED`));
    const t = json<Timeline>(await cli('history', workflowId, '--json'));
    assert.equal(t.trigger.kind, 'schedule');
    assert.equal(t.trigger.scheduleId, id);
    assert.ok(
      t.entries.some(
        (e) => e.kind === 'child' && e.name.includes('rotate-zone-serving') && e.state === 'completed',
      ),
    );
    const child = json<Timeline>(await cli('history', 'rotate-zone-serving', '--json'));
    assert.equal(child.trigger.kind, 'parent');
  });

  test('delete', async () => {
    const r = await cli('schedule', 'delete', id, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(json(r), { scheduleId: id, deleted: true });
    assert.equal((await cli('schedule', 'describe', id)).code, 4);
  });
});
