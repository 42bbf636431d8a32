// Every workflow checks its own input, whoever starts it (the Web UI's Start Workflow form
// sends raw JSON): a wrong type, an unknown key or a bad duration ends the run at once with
// InvalidInput naming the field, before any activity runs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { type Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Activities } from '../../src/activities';
import { continueStepName, forgedContinuation } from '../../src/workflows/grace-wait';
import { checkWorkflowInput, type GraceWaitState } from '../../src/workflows/inputs';
import { PATCHES_AT_START, ROOT_STRATEGIES } from '../../src/workflows/patches';
import { type WorkflowType } from '../../src/workflows/types';
import { inventory } from '../support/dashi';
import { ACTIVITY_NAMES, mockActivities, withWorker, workflowTestEnv } from '../support/workflow-env';

const KNOWN = {
  BootstrapCluster: 'known keys: dryRun, rotate, parallelism',
  RotateZone: 'known keys: zone, dryRun, strategy, grace, maxGrace',
  RotateRoot: 'known keys: dryRun, approve, restartTimeout, pauseTimeout, approvalTimeout, strategy',
};

const continued = {
  strategy: 'overlap',
  previousFingerprint: 'sha256:000000000001',
  pendingFingerprint: 'sha256:000000000002',
  promotedAt: '2026-12-01T00:00:00.000Z',
  graceUntil: '2026-12-01T00:10:00.000Z',
  boundUntil: '2026-12-02T00:00:00.000Z',
  maxGrace: '24h',
  restarted: [],
  steps: [],
  generation: 2,
};

// [workflow, input, field, message]
const bad: Array<[WorkflowType, unknown, string, RegExp]> = [
  [
    'BootstrapCluster',
    { rotate: 'false' },
    'rotate',
    /"rotate" expected true or false, got the string "false"/,
  ],
  ['BootstrapCluster', { dryRun: 1 }, 'dryRun', /"dryRun" expected true or false, got number 1/],
  [
    'BootstrapCluster',
    { dryrun: true },
    'dryrun',
    new RegExp(`unknown key "dryrun" \\(did you mean "dryRun"\\?\\); ${KNOWN.BootstrapCluster}$`),
  ],
  [
    'BootstrapCluster',
    { parallelism: 0 },
    'parallelism',
    /"parallelism" expected a whole number from 1 to 64, got number 0/,
  ],
  ['BootstrapCluster', { parallelism: 2.5 }, 'parallelism', /from 1 to 64, got number 2.5/],
  ['BootstrapCluster', { parallelism: '8' }, 'parallelism', /from 1 to 64, got the string "8"/],
  ['BootstrapCluster', null, '', /BootstrapCluster takes one JSON object like \{"dryRun": true\}, got null/],
  ['BootstrapCluster', ['rotate'], '', /takes one JSON object .*, got a list/],
  ['RotateZone', {}, 'zone', /RotateZone input: "zone" is required/],
  [
    'RotateZone',
    undefined,
    '',
    /RotateZone takes one JSON object like \{"zone": "<zone name>"\}, got nothing/,
  ],
  ['RotateZone', { zone: '' }, 'zone', /"zone" expected a zone name, got an empty string/],
  [
    'RotateZone',
    { zone: 'serving', stratgy: 'in-place' },
    'stratgy',
    new RegExp(`unknown key "stratgy" \\(did you mean "strategy"\\?\\); ${KNOWN.RotateZone}$`),
  ],
  [
    'RotateZone',
    { zone: 'serving', strategy: 'inplace' },
    'strategy',
    /"strategy" expected one of "overlap", "in-place", got the string "inplace"/,
  ],
  [
    'RotateZone',
    { zone: 'serving', grace: '10' },
    'grace',
    /"grace" expected duration like "90s".*, got the string "10"/,
  ],
  [
    'RotateZone',
    { zone: 'serving', grace: 600 },
    'grace',
    /"grace" expected a duration like .*, got number 600/,
  ],
  ['RotateZone', { zone: 'serving', maxGrace: '0s' }, 'maxGrace', /"maxGrace" expected a non-zero duration/],
  [
    'RotateZone',
    { zone: 'serving', dryRun: 'yes' },
    'dryRun',
    /"dryRun" expected true or false, got the string "yes"/,
  ],
  [
    'RotateZone',
    { zone: 'serving', continued: { ...continued, generation: 0 } },
    'continued.generation',
    /"continued.generation"/,
  ],
  [
    'RotateZone',
    { zone: 'serving', continued: { ...continued, rotated: true } },
    'continued.rotated',
    /unknown key "continued.rotated"; known keys: strategy, previousFingerprint/,
  ],
  [
    'RotateZone',
    { zone: 'serving', grace: '1m', continued },
    'grace',
    /"grace" not accepted with "continued"/,
  ],
  ['RotateRoot', { approve: 'no' }, 'approve', /"approve" expected true or false, got the string "no"/],
  ['RotateRoot', { restartTimeout: '0s' }, 'restartTimeout', /"restartTimeout" expected a non-zero duration/],
  [
    'RotateRoot',
    { approvalTimout: '1h' },
    'approvalTimout',
    new RegExp(`unknown key "approvalTimout" \\(did you mean "approvalTimeout"\\?\\); ${KNOWN.RotateRoot}$`),
  ],
  ['RotateRoot', { zone: 'serving' }, 'zone', new RegExp(`unknown key "zone"; ${KNOWN.RotateRoot}$`)],
  // Upper bounds (patch bounded-inputs), each stated in the message.
  [
    'RotateZone',
    { zone: 'serving', maxGrace: '3650d' },
    'maxGrace',
    /"maxGrace" expected at most 30d \(how long a previous key may stay valid after the switch\), got the string "3650d"/,
  ],
  [
    'RotateZone',
    { zone: 'serving', grace: '31d' },
    'grace',
    /"grace" expected at most 30d .*got the string "31d"/,
  ],
  [
    'RotateZone',
    { zone: 'z'.repeat(64) },
    'zone',
    /"zone" expected a zone name \(lowercase letters, digits and "-", .*at most 40 characters\), got the string "z{64}"/,
  ],
  ['RotateZone', { zone: 'Serving' }, 'zone', /"zone" expected a zone name .*got the string "Serving"/],
  [
    'RotateRoot',
    { approvalTimeout: '8d' },
    'approvalTimeout',
    /"approvalTimeout" expected at most 7d \(.*\), got the string "8d"/,
  ],
  [
    'RotateRoot',
    { restartTimeout: '2h' },
    'restartTimeout',
    /"restartTimeout" expected at most 1h \(.*\), got the string "2h"/,
  ],
  [
    'RotateRoot',
    { pauseTimeout: '25h' },
    'pauseTimeout',
    /"pauseTimeout" expected at most 24h \(.*\), got the string "25h"/,
  ],
];

const good: Array<[WorkflowType, unknown]> = [
  ['BootstrapCluster', undefined],
  ['BootstrapCluster', {}],
  ['BootstrapCluster', { dryRun: true, rotate: false, parallelism: 64 }],
  ['RotateZone', { zone: 'serving' }],
  ['RotateZone', { zone: 'serving', dryRun: true, strategy: 'in-place', grace: '0s', maxGrace: '1h30m' }],
  ['RotateZone', { zone: 'serving', grace: '30d', maxGrace: '30d' }],
  ['RotateRoot', undefined],
  [
    'RotateRoot',
    { dryRun: false, approve: true, restartTimeout: '45s', pauseTimeout: '30m', approvalTimeout: '1d' },
  ],
  ['RotateRoot', { restartTimeout: '1h', pauseTimeout: '24h', approvalTimeout: '7d' }],
];

describe('workflow input schemas', () => {
  for (const [workflow, input, field, message] of bad) {
    it(`${workflow} refuses ${JSON.stringify(input)} at "${field}"`, () => {
      const checked = checkWorkflowInput(workflow, input);
      assert.equal(checked.ok, false);
      if (checked.ok) return;
      assert.equal(checked.field, field);
      assert.match(checked.message, message);
    });
  }
  for (const [workflow, input] of good) {
    it(`${workflow} accepts ${JSON.stringify(input)}`, () => {
      const checked = checkWorkflowInput(workflow, input);
      assert.deepEqual(checked, { ok: true, input: input ?? {} });
    });
  }
  it('accepts the state a RotateZone run hands to the run it continues as', () => {
    assert.equal(checkWorkflowInput('RotateZone', { zone: 'serving', continued }).ok, true);
  });
  it('tells an input that breaks only bounds (patch bounded-inputs) from one that breaks more (strict-inputs)', () => {
    const bounds = checkWorkflowInput('RotateZone', { zone: 'serving', maxGrace: '3650d', grace: '31d' });
    assert.equal(!bounds.ok && bounds.boundsOnly, true);
    const both = checkWorkflowInput('RotateZone', { zone: 'serving', maxGrace: '3650d', grace: 'soon' });
    assert.equal(!both.ok && both.boundsOnly, undefined);
    assert.match(
      !both.ok ? both.message : '',
      /"grace" expected .*duration.*; "maxGrace" expected at most 30d/,
    );
  });
});

// The state a genuine run hands over, as boundedGraceWait writes it: both keys' wait is over.
const handedOver: GraceWaitState = {
  strategy: 'overlap',
  previousFingerprint: 'sha256:000000000001',
  pendingFingerprint: 'sha256:000000000002',
  promotedAt: '2020-01-01T00:00:00.000Z',
  graceUntil: '2020-01-01T00:10:00.000Z',
  boundUntil: '2020-01-02T00:00:00.000Z',
  maxGrace: '24h',
  restarted: [],
  steps: [
    {
      name: continueStepName(2),
      state: 'done',
      startedAt: '2020-01-01T08:00:00.000Z',
      endedAt: '2020-01-01T08:00:00.000Z',
    },
  ],
  generation: 2,
};

describe('a continued state only from the run that continued as new', () => {
  const own = { continuedFromExecutionRunId: 'run-1', attempt: 1 };
  it('is accepted from a run the server continued as new, with the state boundedGraceWait writes', () => {
    assert.equal(forgedContinuation(handedOver, own), undefined);
  });
  it('is refused from a client start, a retry, a cron run, or a state no run writes', () => {
    assert.match(
      forgedContinuation(handedOver, { attempt: 1 })!,
      /started by a client, not continued as new/,
    );
    assert.match(forgedContinuation(handedOver, { ...own, attempt: 2 })!, /retry or cron run/);
    assert.match(
      forgedContinuation(handedOver, { ...own, lastFailure: new Error('x') })!,
      /retry or cron run/,
    );
    assert.match(forgedContinuation(handedOver, { ...own, lastResult: {} })!, /retry or cron run/);
    assert.match(
      forgedContinuation({ ...handedOver, generation: 3 }, own)!,
      /steps do not end with "continue the grace wait as a new run \(generation 3\)"/,
    );
    assert.match(forgedContinuation({ ...handedOver, steps: [] }, own)!, /steps do not end with/);
    assert.match(
      forgedContinuation({ ...handedOver, graceUntil: '2020-01-03T00:00:00.000Z' }, own)!,
      /graceUntil .* is after its boundUntil/,
    );
  });
});

/** The patch IDs a run's history recorded markers for. */
async function patchesOf(client: Client, workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const m = e.markerRecordedEventAttributes;
    if (m?.markerName !== 'core_patch') return [];
    const data = m.details?.['patch-data']?.payloads?.[0]?.data;
    return data ? [(JSON.parse(Buffer.from(data).toString()) as { id: string }).id] : [];
  });
}

describe('RotateZone refuses a forged continued state (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('a client start with "continued" ends InvalidInput having called nothing: the previous key is not revoked', async () => {
    // Strict mocks: every activity, announce included, is recorded and fails.
    const calls: string[] = [];
    const record = Object.fromEntries(
      ACTIVITY_NAMES.map((name) => [
        name,
        async () => {
          calls.push(name);
          throw ApplicationFailure.nonRetryable(`unexpected activity ${name}`, 'UnexpectedActivity');
        },
      ]),
    ) as unknown as Partial<Activities>;
    await withWorker(env, mockActivities(record), async (client, taskQueue) => {
      const workflowId = `forged-continued-${Date.now()}`;
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId,
        args: [{ zone: 'serving', continued: handedOver }],
      });
      const err = await handle.result().then(
        () => assert.fail('RotateZone completed'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowFailedError);
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.equal(err.cause.type, 'InvalidInput', err.cause.message);
      assert.equal(err.cause.nonRetryable, true);
      assert.match(
        err.cause.message,
        /"continued" is the state a RotateZone run hands to the run it continues as new, never an input: this run was started by a client/,
      );
      // Only the marker of the run's start (every patch decided there): no marker of its own.
      assert.deepEqual(await patchesOf(client, workflowId), [PATCHES_AT_START, ROOT_STRATEGIES]);
    });
    assert.deepEqual(calls, [], 'no activity: nothing revoked, no pending record touched');
  });

  it('an input beyond a bound is refused by a run with every patch decided at its start', async () => {
    await withWorker(env, mockActivities({}), async (client, taskQueue) => {
      const workflowId = `bounded-${Date.now()}`;
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId,
        args: [{ zone: 'serving', maxGrace: '3650d' }],
      });
      await handle.result().then(
        () => assert.fail('RotateZone completed'),
        (e: unknown) => assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure),
      );
      assert.deepEqual(await patchesOf(client, workflowId), [PATCHES_AT_START, ROOT_STRATEGIES]);
    });
  });
});

describe('workflows refuse bad input themselves (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  // One worker serves every case; activities record which run called them.
  const calls = new Map<string, string[]>();
  let served: { client: Client; taskQueue: string } | undefined;
  let stop: () => void = () => {};
  let worker: Promise<void> | undefined;
  before(async () => {
    env = await workflowTestEnv();
    // Past validation the first activity is the inventory: it answers and stops the run.
    const activities = mockActivities({
      inventorySnapshot: async () => {
        const id = Context.current().info.workflowExecution?.workflowId ?? '(none)';
        calls.set(id, [...(calls.get(id) ?? []), 'inventorySnapshot']);
        throw ApplicationFailure.nonRetryable('test stops here', 'TestStop');
      },
    });
    const ready = new Promise<void>((resolve) => {
      worker = withWorker(env, activities, (client, taskQueue) => {
        served = { client, taskQueue };
        resolve();
        return new Promise<void>((done) => (stop = done));
      });
    });
    await ready;
  });
  after(async () => {
    stop();
    await worker;
    await env?.teardown();
  });

  let runs = 0;
  async function failureOf(workflow: WorkflowType, input: unknown) {
    const { client, taskQueue } = served!;
    const workflowId = `input-${workflow}-${++runs}`;
    const handle = await client.workflow.start(workflow, {
      taskQueue,
      workflowId,
      args: input === undefined ? [] : [input],
    });
    const err = await handle.result().then(
      () => assert.fail(`${workflow} completed`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof ApplicationFailure);
    return { failure: err.cause, calls: calls.get(workflowId) ?? [] };
  }

  for (const [workflow, input, , message] of bad) {
    it(`${workflow} ${JSON.stringify(input)}: InvalidInput before any activity`, async () => {
      const { failure, calls } = await failureOf(workflow, input);
      assert.equal(failure.type, 'InvalidInput');
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, message);
      assert.deepEqual(calls, []);
    });
  }

  for (const [workflow, input] of good) {
    it(`${workflow} ${JSON.stringify(input)}: accepted, goes on to the inventory`, async () => {
      const { failure, calls } = await failureOf(workflow, input);
      assert.notEqual(failure.type, 'InvalidInput', failure.message);
      assert.deepEqual(calls, ['inventorySnapshot']);
    });
  }
});

describe('RotateZone checks grace against maxGrace (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  it('RotateZone refuses a maxGrace shorter than its grace (from the inventory)', async () => {
    const calls: string[] = [];
    await withWorker(
      env,
      mockActivities({
        inventorySnapshot: async () => {
          calls.push('inventorySnapshot');
          return inventory;
        },
      }),
      async (client, taskQueue) => {
        const handle = await client.workflow.start('RotateZone', {
          taskQueue,
          workflowId: `input-max-grace-${Date.now()}`,
          args: [{ zone: 'serving', maxGrace: '5m' }],
        });
        const err = await handle.result().then(
          () => assert.fail('RotateZone completed'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(err.cause instanceof ApplicationFailure);
        assert.equal(err.cause.type, 'InvalidInput');
        assert.match(err.cause.message, /maxGrace 5m is shorter than grace 10m/);
      },
    );
    assert.deepEqual(calls, ['inventorySnapshot']);
  });
});
