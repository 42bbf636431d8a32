// Records the replay histories of outage budgets (patch outage-budgets): steps that keep
// failing, retried by the run within their budgets, told to people, and a run that ends with
// the previous key still valid. Outages of hours are what these paths are about, so they are
// recorded in the time-skipping test server with the activities of
// test/unit/workflow-retry-budgets.test.ts mocked:
//   npx tsx test/replay/record-budget-histories.ts [TAG]   (TAG: the era, default outage-budgets)
// Never re-record an existing file to make a replay failure go away.
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { type Activities } from '../../src/activities';
import { OUTAGE_BUDGETS } from '../../src/workflows/patches';
import { inventory } from '../support/dashi';
import { withWorker, workflowTestEnv } from '../support/workflow-env';
import { zoneActivities } from '../support/zone-activities';
import { eraTag, writeHistory } from './history-files';

const OUTAGE = 'connect ECONNREFUSED 127.0.0.1:9000 (the store is unreachable)';

/** The zone's activities, `name` failing while `fails(n)` says so for its n-th call. */
function failing(name: keyof Activities, fails: (call: number) => boolean): Activities {
  const { activities } = zoneActivities(() => []);
  const real = activities[name] as (...args: unknown[]) => Promise<unknown>;
  let call = 0;
  (activities as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
    if (fails(++call)) throw new Error(OUTAGE);
    return real(...args);
  };
  activities.discardPendingIdentity = async () => 'svc-new deleted';
  return activities;
}

async function main() {
  const env = await workflowTestEnv();
  const record = async (name: string, activities: Activities, input: object) => {
    await withWorker(env, activities, async (client, taskQueue) => {
      const handle = await client.workflow.start('RotateZone', {
        taskQueue,
        workflowId: name,
        args: [input],
      });
      await handle.result().catch(() => undefined);
      const history = await handle.fetchHistory();
      const file = writeHistory(name, eraTag(OUTAGE_BUDGETS), historyToJSON(history));
      console.log(`recorded ${file} (${history.events?.length} events)`);
    });
  };
  try {
    // The store refuses before the switch for ~10 minutes: retried, told, then the rotation completes.
    await record(
      'rotate-zone-outage-before-switch',
      failing('ensureZoneIdentity', (n) => n <= 25),
      {
        zone: 'serving',
        grace: '0s',
      },
    );
    // The revocation fails for ~1 hour past the switch: retried, told, then the key is revoked.
    await record(
      'rotate-zone-outage-past-switch',
      failing('revokePrevious', (n) => n <= 35),
      {
        zone: 'serving',
        grace: '0s',
      },
    );
    // The revocation never succeeds within the inventory's pastSwitch of 30m: PreviousKeyStillValid.
    const stillValid = failing('revokePrevious', () => true);
    stillValid.inventorySnapshot = async () => ({ ...inventory, retries: { pastSwitch: 30 * 60_000 } });
    await record('rotate-zone-key-still-valid', stillValid, { zone: 'serving', grace: '0s' });
    // A smoke mismatch after the switch, and the undo's restore failing for ~20 minutes: retried until it succeeds.
    const { activities: undo } = zoneActivities(() => []);
    undo.smokeZone = async (_zone, source = 'current') => {
      if (source === 'current')
        throw ApplicationFailure.nonRetryable('zone serving: 2 of 12 cells mismatched', 'SmokeMismatch');
      return { zone: 'serving', source, passed: 12, cells: 12, mismatches: [] };
    };
    let restores = 0;
    undo.restoreZonePrevious = async () => {
      if (++restores <= 15) throw new Error(OUTAGE);
      return { fingerprint: 'sha256:aaaaaaaaaaaa', changed: true, writtenAt: new Date().toISOString() };
    };
    undo.discardPendingIdentity = async () => 'svc-new deleted';
    await record('rotate-zone-undo-retried', undo, { zone: 'serving', grace: '0s' });
  } finally {
    await env.teardown();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
