// RotateRoot past its point of no return (patch outage-budgets), time-skipping with mocked
// activities: a zone whose re-ensure keeps failing is retried for the pastSwitch budget (hours),
// the other zones are re-created meanwhile, and the run ends either with every zone re-created
// or failing with exactly the zones that were not.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { type ApplicationFailure } from '@temporalio/common';
import { type TestWorkflowEnvironment } from '@temporalio/testing';
import { type Activities } from '../../src/activities';
import { ERAS } from '../../src/workflows/run-constants';
import { type WorkflowResult } from '../../src/workflows/types';
import { withWorker, workflowTestEnv } from '../support/workflow-env';
import { Fake, ZONES } from '../support/workflow-mocks';

const OUTAGE = 'connect ECONNREFUSED 127.0.0.1:9000 (the store is unreachable)';
let ids = 0;

describe('RotateRoot past its point of no return (time-skipping)', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await workflowTestEnv();
  });
  after(async () => {
    await env?.teardown();
  });

  const rotateRoot = (fake: Fake) =>
    withWorker(env, fake.activities(), (client, taskQueue) =>
      client.workflow.execute('RotateRoot', {
        taskQueue,
        workflowId: `root-budgets-${process.pid}-${++ids}`,
        args: [{ approve: true }],
      }),
    ) as Promise<WorkflowResult>;

  /** ensureZoneIdentity of `zone` fails after the store is back while `fails(n)` holds for its n-th such call. */
  const failingZone = (zone: string, fails: (n: number) => boolean) => {
    const fake = new Fake();
    const attempts = { n: 0 };
    const zoneDefault = (fake as unknown as { defaults(): Activities }).defaults().ensureZoneIdentity;
    fake.on('ensureZoneIdentity', async (...args: never[]) => {
      const [name] = args as unknown as [string];
      const pastSwitch = fake.names().includes('waitForStoreWithRoot');
      if (pastSwitch && name === zone && fails(++attempts.n)) throw new Error(OUTAGE);
      return zoneDefault(...(args as unknown as Parameters<typeof zoneDefault>));
    });
    return { fake, attempts };
  };

  it('a zone whose store calls fail for an hour is re-created once they pass; every zone verified', async () => {
    // 2, 4, ... 64 s, then every 2 minutes: 35 failures are more than an hour.
    const { fake, attempts } = failingZone(ZONES[0]!, (n) => n <= 35);
    const result = await rotateRoot(fake);
    assert.equal(result.outcome, 'completed', result.summary);
    assert.match(result.summary, new RegExp(`${ZONES.length} zone\\(s\\) verified`));
    assert.equal(attempts.n, 36);
  });

  it('a zone that never comes back: the run fails after the pastSwitch budget naming exactly that zone', async () => {
    const { fake } = failingZone(ZONES[0]!, () => true);
    const err = await rotateRoot(fake).then(
      () => assert.fail('the run completed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    const failure = err.cause as ApplicationFailure;
    const budget = ERAS.outageBudgets.budgets!.steps.pastSwitch.budgetMs / 3600_000;
    assert.match(
      failure.message,
      new RegExp(
        `1 of ${ZONES.length} zone\\(s\\) not re-ensured: ${ZONES[0]} \\(ensureZoneIdentity failed \\d+ time\\(s\\) over .*its pastSwitch budget of ${budget}h is spent`,
      ),
    );
    // The other zones were re-created meanwhile.
    for (const z of ZONES.slice(1))
      assert.ok(
        fake.calls.some((c) => c.name === 'ensureZoneIdentity' && c.args[0] === z),
        `zone ${z} re-ensured`,
      );
  });
});
