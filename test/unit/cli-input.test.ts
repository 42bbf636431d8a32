import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { cronProblem } from '../../src/cli/cron';
import { CliError, EXIT } from '../../src/cli/output';
import { accessOf } from '../../src/audit/report';
import { classifyTrigger } from '../../src/timeline/trigger';
import { prepareStart } from '../../src/cli/workflow-input';
import { loadInventory } from '../../src/inventory';

const inventoryFile = path.join(__dirname, '..', '..', 'config', 'dashi.yaml');

const usage = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CliError);
    assert.equal(err.exitCode, EXIT.usage);
    assert.match(err.message, pattern);
    return true;
  });

describe('cron validation', () => {
  test('accepts the default, lists, ranges, steps, names and macros', () => {
    for (const ok of ['0 3 1 * *', '*/15 0-6 * * MON-FRI', '0 0 1,15 JAN,JUL 0', '@monthly', '30 2 * * 7']) {
      assert.equal(cronProblem(ok), undefined, ok);
    }
  });
  test('names the wrong field', () => {
    assert.match(cronProblem('0 3 32 * *')!, /day-of-month 32 is out of range 1-31/);
    assert.match(cronProblem('61 * * * *')!, /minute 61 is out of range 0-59/);
    assert.match(cronProblem('0 3 1 *')!, /has 4 fields/);
    assert.match(cronProblem('@fortnightly')!, /unknown macro/);
    assert.match(cronProblem('0 3 1 13 *')!, /month 13 is out of range/);
    assert.match(cronProblem('0 9-5 * * *')!, /backwards/);
    assert.match(cronProblem('x 3 1 * *')!, /minute "x" is not a number/);
    assert.match(cronProblem('')!, /empty/);
  });
});

describe('workflow input from flags', async () => {
  const inventory = await loadInventory(inventoryFile);
  test('one JSON object per workflow, with its lock ID', () => {
    assert.deepEqual(prepareStart('BootstrapCluster', { rotate: true }, inventory), {
      workflowType: 'BootstrapCluster',
      workflowId: 'bootstrap-cluster',
      input: { rotate: true },
      summary: 'BootstrapCluster + rotate every zone: ingest, pipeline, serving',
    });
    const z = prepareStart(
      'RotateZone',
      { zone: 'serving', grace: '0s', strategy: 'in-place', dryRun: true },
      inventory,
    );
    assert.equal(z.workflowId, 'rotate-zone-serving');
    assert.deepEqual(z.input, { zone: 'serving', dryRun: true, strategy: 'in-place', grace: '0s' });
    const r = prepareStart('rotateroot', { restartTimeout: '45s' }, inventory);
    assert.equal(r.workflowType, 'RotateRoot');
    assert.deepEqual(r.input, { restartTimeout: '45s' });
  });
  test('--approve only where the inventory allows input approval', async () => {
    const inventory = await loadInventory(inventoryFile);
    usage(
      () => prepareStart('RotateRoot', { approve: true }, inventory),
      /--approve .* is refused: the inventory does not allow it \(approvals\.allowInputApproval is false\)/,
    );
    const allowing = { ...inventory, approvals: { ...inventory.approvals, allowInputApproval: true } };
    assert.deepEqual(prepareStart('RotateRoot', { approve: true }, allowing).input, { approve: true });
  });
  test('unknown workflow, with a suggestion', () =>
    usage(
      () => prepareStart('RotateZones', {}, inventory),
      /unknown workflow "RotateZones".*Did you mean "RotateZone"/,
    ));
  test('unknown zone, with the known ones', () =>
    usage(
      () => prepareStart('RotateZone', { zone: 'servng' }, inventory),
      /Unknown zone "servng".*Known zones: ingest, pipeline, serving.*Did you mean "serving"/,
    ));
  test('RotateZone without --zone', () =>
    usage(() => prepareStart('RotateZone', {}, inventory), /needs --zone/));
  test('a flag that does not apply', () =>
    usage(
      () => prepareStart('BootstrapCluster', { zone: 'serving' }, inventory),
      /--zone does not apply to BootstrapCluster/,
    ));
  test('bad strategy and duration', () => {
    usage(
      () => prepareStart('RotateZone', { zone: 'serving', strategy: 'fast' }, inventory),
      /--strategy "fast" is not one of/,
    );
    usage(
      () => prepareStart('RotateZone', { zone: 'serving', grace: '10' }, inventory),
      /--grace "10" is not a duration/,
    );
  });
  test('--max-grace: RotateZone only, a non-zero duration not below the grace', () => {
    assert.deepEqual(prepareStart('RotateZone', { zone: 'serving', maxGrace: '2h' }, inventory).input, {
      zone: 'serving',
      maxGrace: '2h',
    });
    usage(
      () => prepareStart('RotateZone', { zone: 'serving', maxGrace: 'soon' }, inventory),
      /--max-grace "soon" is not a duration/,
    );
    usage(
      () => prepareStart('RotateZone', { zone: 'serving', maxGrace: '5m' }, inventory),
      /--max-grace 5m is shorter than the grace of zone serving 10m/,
    );
    usage(
      () => prepareStart('RotateZone', { zone: 'serving', grace: '2d' }, inventory),
      /maxGrace of zone serving 1d is shorter than --grace 2d/,
    );
    usage(
      () => prepareStart('RotateRoot', { maxGrace: '1h' }, inventory),
      /--max-grace does not apply to RotateRoot/,
    );
  });
  test("the input the flags make is checked by the workflow's own schema", () => {
    // A zero --max-grace passes the flag's duration check; the workflow refuses it, and so
    // does the CLI, with the workflow's message, before anything starts.
    usage(
      () => prepareStart('RotateZone', { zone: 'serving', grace: '0s', maxGrace: '0s' }, inventory),
      /RotateZone input: "maxGrace" expected a non-zero duration like .*, got the string "0s"/,
    );
    usage(
      () => prepareStart('RotateRoot', { restartTimeout: '0s' }, inventory),
      /RotateRoot input: "restartTimeout" expected a non-zero duration/,
    );
  });
  test('--parallelism: a whole number from 1 to 64, for BootstrapCluster only', () => {
    assert.deepEqual(prepareStart('BootstrapCluster', { rotate: true, parallelism: '16' }, inventory).input, {
      rotate: true,
      parallelism: 16,
    });
    usage(
      () => prepareStart('BootstrapCluster', { parallelism: '0' }, inventory),
      /--parallelism 0 is not from 1 to 64/,
    );
    usage(() => prepareStart('BootstrapCluster', { parallelism: '65' }, inventory), /is not from 1 to 64/);
    usage(
      () => prepareStart('BootstrapCluster', { parallelism: 'many' }, inventory),
      /--parallelism "many" is not a whole number/,
    );
    usage(
      () => prepareStart('RotateZone', { zone: 'serving', parallelism: '4' }, inventory),
      /--parallelism does not apply to RotateZone/,
    );
  });
});

describe('audit and history helpers', () => {
  test('policy documents become bucket → actions', () => {
    assert.deepEqual(
      accessOf({
        Statement: [
          { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::processed'] },
          { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::processed/*' },
          { Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:::secret' },
        ],
      }),
      [{ bucket: 'processed', actions: ['s3:GetObject', 's3:ListBucket'] }],
    );
  });
  test('the start event tells CLI, Web UI, schedule and parent apart', () => {
    assert.equal(classifyTrigger({ identity: 'rotator-cli:alice@laptop' }).kind, 'cli');
    assert.equal(classifyTrigger({ identity: '' }).kind, 'web-ui');
    assert.equal(classifyTrigger({ identity: 'temporal-cli:bob@host' }).kind, 'temporal-cli');
    assert.equal(
      classifyTrigger({
        identity: '1234@worker-host',
        parentWorkflowExecution: { workflowId: 'bootstrap-cluster' },
      }).kind,
      'parent',
    );
    assert.equal(classifyTrigger({ identity: '4321@some-service' }).kind, 'client');
  });
});
