// Emergencies first, on the real stack: the rotation of a leaked zone key (`--grace 0s`) runs
// while a root rotation waits for its approval — that one holds nothing until it is approved
// and about to change something — and a root rotation that holds the root (its store restart
// under way) still refuses every zone rotation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { approveUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { json, runCli, startCliWorker, type CliFixture } from '../support/cli';
import { readSecretData } from '../support/kube';
import { nodeAgent, waitPhase } from '../support/rotator';
import { getStack } from '../support/stack';
import { canList, creds } from '../support/store';

const stack = getStack();
const agent = nodeAgent(stack);
let fx: CliFixture;
const cli = (...args: string[]) => runCli(args, fx.env);
const servingKey = async () => creds(await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving'));

describe('emergencies first', () => {
  before(async () => {
    fx = await startCliWorker(stack, { grace: '1h' });
    await fx.worker.client.workflow.execute('BootstrapCluster', {
      taskQueue: fx.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
    await agent.reset();
  });
  after(async () => {
    await agent.reset().catch(() => undefined);
    await fx?.close();
  });

  test('a RotateRoot awaiting approval does not block the leaked-key rotation; approved afterwards, it completes', async () => {
    const root = await fx.worker.client.workflow.start('RotateRoot', {
      taskQueue: fx.taskQueue,
      workflowId: 'rotate-root',
      args: [{}],
    });
    await waitPhase(root, 'awaiting-approval');
    const leaked = await servingKey();

    const r = await cli(
      'start-workflow',
      'RotateZone',
      '--zone',
      'serving',
      '--grace',
      '0s',
      '--wait',
      '--json',
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const fresh = await servingKey();
    assert.notEqual(fresh.accessKey, leaked.accessKey, 'the zone has a new key');
    assert.equal(await canList(stack, fresh, 'curated'), true, 'the new key works');
    assert.equal(
      await canList(stack, leaked, 'curated'),
      'AuthenticationFailed',
      'the leaked key is revoked',
    );
    assert.equal((await root.query(statusQuery)).phase, 'awaiting-approval', 'the root rotation still waits');

    await root.executeUpdate(approveUpdate, { args: [{ by: 'on-call', reason: 'after the emergency' }] });
    const result = (await root.result()) as WorkflowResult;
    assert.equal(result.outcome, 'completed');
    assert.equal(await canList(stack, fresh, 'curated'), true, 'the zone key survives the root rotation');
  });

  test('a RotateRoot that holds the root (its store restart under way) refuses a zone rotation, naming itself', async () => {
    await agent.hold();
    const root = await fx.worker.client.workflow.start('RotateRoot', {
      taskQueue: fx.taskQueue,
      workflowId: 'rotate-root',
      args: [{ approve: true }],
    });
    try {
      await agent.held();
      const before = await servingKey();
      const refused = fx.worker.client.workflow.execute('RotateZone', {
        taskQueue: fx.taskQueue,
        workflowId: 'rotate-zone-serving',
        args: [{ zone: 'serving', grace: '0s' }],
      });
      await assert.rejects(refused, (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError, String(err));
        // The early check says so; the zone lock would too, had the visibility index lagged.
        assert.match(
          String(err.cause?.message),
          /RotateRoot rotate-root (is running .*and holds the root|.*the root rotation excludes every zone)/,
        );
        return true;
      });
      assert.deepEqual(await servingKey(), before, 'the refused run changed nothing');
    } finally {
      await agent.release();
    }
    assert.equal(((await root.result()) as WorkflowResult).outcome, 'completed');
    assert.equal(
      json<{ findings: unknown[] }>(await cli('audit', '--json')).findings.length,
      0,
      'audit clean',
    );
  });
});
