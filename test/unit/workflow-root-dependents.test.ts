// RotateRoot's plan states the service accounts whose parent is the root and the sessions a
// root rotation ends, from what preflight (verifyRoot) found, in the time-skipping environment
// with mocked activities; a real run calls no activity for it beyond verifyRoot.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type WorkflowResult } from '../../src/workflows/types';
import { describeRootDependents } from '../../src/rustfs/root-dependents';
import { Fake } from '../support/workflow-mocks';
import { withWorker, workflowTestEnv } from '../support/workflow-env';

let ids = 0;
const KEPT = { kind: 'rustfs' as const, version: '1.0.0-rc.3', iamSurvivesRootChange: true };
const LOST = { kind: 'rustfs' as const, version: '1.0.0-alpha.85', iamSurvivesRootChange: false };

describe('RotateRoot states the root-parented service accounts and the sessions it ends (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const rotateRoot = (fake: Fake, args: object) =>
    withWorker(env, fake.activities(), (client, taskQueue) =>
      client.workflow.execute('RotateRoot', {
        taskQueue,
        workflowId: `root-dependents-${process.pid}-${++ids}`,
        args: [args],
      }),
    ) as Promise<WorkflowResult>;

  it('the plan names the accounts and what the rotation does to them, and the sessions that end', async () => {
    const fake = new Fake().on('verifyRoot', async () => ({
      ...KEPT,
      rootDependents: describeRootDependents(KEPT, ['ROOTSVC1', 'ROOTSVC2']),
    }));
    const result = await rotateRoot(fake, { dryRun: true });
    assert.equal(result.outcome, 'planned');
    const notes = result.plan!.notes;
    assert.ok(
      notes.some((n) =>
        /^2 service account\(s\) whose parent is the root \(ROOTSVC1, ROOTSVC2\) keep root's rights on rustfs 1\.0\.0-rc\.3/.test(
          n,
        ),
      ),
      notes.join('\n'),
    );
    assert.ok(
      notes.some((n) => /^console and STS sessions signed with the root secret end/.test(n)),
      notes.join('\n'),
    );
    assert.ok(!JSON.stringify(result).includes('secretKey'), 'no secret in the plan');
  });

  it('on a store that loses IAM: the accounts are lost and not re-created', async () => {
    const fake = new Fake().on('verifyRoot', async () => ({
      ...LOST,
      rootDependents: describeRootDependents(LOST, ['ROOTSVC1']),
    }));
    const notes = (await rotateRoot(fake, { dryRun: true })).plan!.notes;
    assert.ok(
      notes.some((n) =>
        /^1 service account\(s\) whose parent is the root \(ROOTSVC1\) are lost .*NOT re-created/.test(n),
      ),
      notes.join('\n'),
    );
  });

  it('a preflight result without them (a run recorded before) plans as before', async () => {
    const fake = new Fake().on('verifyRoot', async () => KEPT);
    const notes = (await rotateRoot(fake, { dryRun: true })).plan!.notes;
    assert.deepEqual(notes, []);
  });

  it('a real run calls the same activities whether or not root has service accounts', async () => {
    const plain = new Fake().on('verifyRoot', async () => KEPT);
    await rotateRoot(plain, { approve: true });
    const withAccounts = new Fake().on('verifyRoot', async () => ({
      ...KEPT,
      rootDependents: describeRootDependents(KEPT, ['ROOTSVC1']),
    }));
    const result = await rotateRoot(withAccounts, { approve: true });
    assert.equal(result.outcome, 'completed');
    assert.deepEqual(withAccounts.names(), plain.names());
  });
});
