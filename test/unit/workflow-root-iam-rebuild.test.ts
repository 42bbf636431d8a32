// RotateRoot on a store that loses IAM on a root change (RustFS 1.0.0-alpha.85), in the
// time-skipping environment with mocked activities: every zone policy is re-created before
// any zone, no consumer is restarted, and the window in which zone keys were refused is
// reported; on a store that keeps IAM none of that happens.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type WorkflowResult } from '../../src/workflows/types';
import { WorkflowFailedError } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { Fake, FP, inventory, ZONES } from '../support/workflow-mocks';
import { withWorker, workflowTestEnv } from '../support/workflow-env';

let ids = 0;
const LOSSY = { kind: 'rustfs', version: '0.0.5', iamSurvivesRootChange: false };

describe('RotateRoot on a store that loses IAM (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const rotateRoot = (fake: Fake, args: object = { approve: true }) =>
    withWorker(env, fake.activities(), (client, taskQueue) =>
      client.workflow.execute('RotateRoot', {
        taskQueue,
        workflowId: `iam-rebuild-${process.pid}-${++ids}`,
        args: [args],
      }),
    ) as Promise<WorkflowResult>;

  it('re-creates every zone policy before any zone, restarts only the store, reports the refusal window', async () => {
    const fake = new Fake().on('verifyRoot', async () => LOSSY);
    // The zones take a while to come back: the window must count it.
    fake.on('ensureZoneIdentity', async () => {
      await new Promise((r) => setTimeout(r, 20));
      return { userCreated: true, credential: 'service account created', fingerprint: 'sha256:bbbbbbbbbbbb' };
    });
    const result = await rotateRoot(fake);
    const names = fake.names();
    const policies = names.indexOf('ensureZonePolicies');
    assert.ok(policies > names.indexOf('waitForStoreWithRoot'), 'policies after the store is back');
    assert.ok(policies < names.indexOf('ensureZoneIdentity'), `policies first: ${names.join(', ')}`);
    assert.equal(fake.count('ensureZonePolicies'), 1);
    assert.equal(fake.count('ensureZoneIdentity'), ZONES.length);
    const restarted = fake.calls
      .filter((c) => c.name === 'restartWorkloads')
      .flatMap((c) => c.args[0] as object[]);
    assert.deepEqual(restarted, [inventory.store.workload], 'only the store restarts, no consumer');
    assert.equal(result.outcome, 'completed');
    assert.equal(typeof result.root?.zoneKeysRefusedMs, 'number');
    assert.ok(result.root!.zoneKeysRefusedMs! >= 0);
    assert.equal(typeof result.root?.storeDowntimeMs, 'number');
    assert.match(
      result.summary,
      /rustfs lost IAM on the root change: zones re-created from their Secrets, zone keys refused for \d+\.\d s/,
    );
  });

  it('on a store that keeps IAM: no policy rebuild and no refusal window', async () => {
    const fake = new Fake();
    const result = await rotateRoot(fake);
    assert.equal(fake.count('ensureZonePolicies'), 0);
    assert.equal(fake.count('ensureZoneIdentity'), ZONES.length);
    assert.equal(result.root?.zoneKeysRefusedMs, undefined);
    assert.doesNotMatch(result.summary, /lost IAM/);
  });

  it('every zone is re-ensured at once, then smoked at once', async () => {
    let inFlight = 0;
    let most = 0;
    const overlapping = (result: unknown) => async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 50));
      inFlight -= 1;
      return result;
    };
    const fake = new Fake()
      .on('verifyRoot', async () => LOSSY)
      .on(
        'ensureZoneIdentity',
        overlapping({ userCreated: true, credential: 'service account created', fingerprint: FP.pending }),
      );
    const result = await rotateRoot(fake);
    assert.equal(result.outcome, 'completed');
    assert.equal(most, ZONES.length, 'every zone re-ensured at the same time');
    const names = fake.names();
    assert.ok(
      names.lastIndexOf('ensureZoneIdentity') < names.indexOf('smokeZone'),
      'smokes after every zone',
    );
  });

  it('a zone that cannot be re-ensured: the others still are, and the failure names it', async () => {
    const refused = ZONES[1]!;
    const fake = new Fake().failWhen(
      'ensureZoneIdentity',
      (zone: string) => zone === refused,
      'store refused',
    );
    const err = await rotateRoot(fake).then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e as WorkflowFailedError,
    );
    assert.ok(err instanceof WorkflowFailedError);
    const cause = err.cause as ApplicationFailure;
    assert.match(
      cause.message,
      new RegExp(`1 of ${ZONES.length} zone\\(s\\) not re-ensured: ${refused} \\(store refused\\)\\.$`),
    );
    assert.equal(fake.count('ensureZoneIdentity'), ZONES.length, 'every zone tried');
    assert.equal(fake.count('smokeZone'), 0);
  });

  it('the plan names the policy rebuild and the refusal window', async () => {
    const lossy = await rotateRoot(
      new Fake().on('verifyRoot', async () => LOSSY),
      { dryRun: true },
    );
    const kept = await rotateRoot(new Fake(), { dryRun: true });
    const targets = (r: WorkflowResult) => r.plan!.actions.map((a) => a.target);
    assert.ok(targets(lossy).indexOf('every zone policy') < targets(lossy).indexOf(`zone ${ZONES[0]}`));
    assert.ok(!targets(kept).includes('every zone policy'));
    assert.match(lossy.plan!.expectedDowntime, /keys are refused until its zone is re-created/);
    assert.doesNotMatch(kept.plan!.expectedDowntime, /refused/);
  });
});
