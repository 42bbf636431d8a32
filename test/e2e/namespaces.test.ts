// Two Temporal namespaces, one cluster (issue 24 point 4): a worker of a second namespace (a
// staging or DR deployment with the same Kubernetes credentials) finds the first's open
// rotation in the zone's pending record but cannot see its run. It must never take that for
// an abandoned record and reconcile it (revoking keys); it refuses, naming the other
// namespace and run, and its BootstrapCluster leaves the zone alone.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { SANDBOX_SECOND_NAMESPACE } from '../../src/sandbox/temporal-server';
import { revokeNowUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { adminKube, eventually } from '../support/kube';
import { startRotator, type Rotator } from '../support/rotator';
import { getStack } from '../support/stack';

const stack = getStack();
const ZONE = 'serving';
const RECORD = { namespace: 'dashi-serving', name: 'dashi-rustfs-serving-pending' };

describe('a second Temporal namespace never reconciles the first one’s open rotation (real stack)', () => {
  let first: Rotator;
  let second: Rotator;

  before(async () => {
    first = await startRotator(stack, { grace: '1h' });
    second = await startRotator(stack, { grace: '1h', namespace: SANDBOX_SECOND_NAMESPACE });
    await first.client.workflow.execute('BootstrapCluster', {
      taskQueue: first.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
  });
  after(async () => {
    await first?.client.workflow
      .getHandle(`rotate-zone-${ZONE}`)
      .terminate('test cleanup')
      .catch(() => undefined);
    await second?.close();
    await first?.close();
  });

  test('the open rotation is reported, not reconciled; once it ends the second namespace rotates the zone', async () => {
    const { core } = adminKube(stack);
    const open = await first.client.workflow.start('RotateZone', {
      taskQueue: first.taskQueue,
      workflowId: `rotate-zone-${ZONE}`,
      args: [{ zone: ZONE }],
    });
    await eventually(
      'the first rotation in its grace wait',
      async () => (await open.query(statusQuery)).phase === 'waiting-grace',
      120_000,
    );
    const record = await core.readNamespacedSecret(RECORD);
    assert.equal(
      record.metadata?.annotations?.['rotator.rustfs.dev/owner-temporal-namespace'],
      stack.temporal.namespace,
    );
    const user = first.inventory.zones.find((z) => z.name === ZONE)!.user;
    const root = await first.deps.admin(await rootCredentials());
    const keysBefore = (await root.listServiceAccounts(user)).map((a) => a.accessKey).sort();

    // The second namespace has no run of that ID: before, its lock took the record for abandoned.
    const refused = second.client.workflow.execute('RotateZone', {
      taskQueue: second.taskQueue,
      workflowId: `rotate-zone-${ZONE}`,
      args: [{ zone: ZONE }],
    });
    const err = await refused.then(
      () => assert.fail('the second namespace rotated a zone the first one holds'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    const messages: string[] = [];
    for (let e: Error | undefined = err; e; e = (e as { cause?: Error }).cause) messages.push(e.message);
    const text = messages.join(' | ');
    assert.match(
      text,
      new RegExp(
        `held by RotateZone rotate-zone-${ZONE} \\(run ${open.firstExecutionRunId}\\) in Temporal namespace ${stack.temporal.namespace}`,
      ),
    );
    assert.match(text, /never reconciled from here/);

    const bootstrap = (await second.client.workflow.execute('BootstrapCluster', {
      taskQueue: second.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    })) as WorkflowResult;
    const serving = bootstrap.zones.find((z) => z.zone === ZONE)!;
    assert.equal(serving.outcome, 'skipped');
    assert.equal(serving.heldBy?.namespace, stack.temporal.namespace);
    assert.equal(serving.heldBy?.runId, open.firstExecutionRunId);

    // Nothing of the first rotation was touched: its record, its keys, its run.
    const after = await core.readNamespacedSecret(RECORD);
    assert.equal(after.metadata?.resourceVersion, record.metadata?.resourceVersion);
    assert.deepEqual((await root.listServiceAccounts(user)).map((a) => a.accessKey).sort(), keysBefore);
    assert.equal((await open.describe()).status.name, 'RUNNING');

    await open.executeUpdate(revokeNowUpdate, { args: [{ by: 'e2e-oncall' }] });
    assert.equal(((await open.result()) as WorkflowResult).outcome, 'completed');
    const next = (await second.client.workflow.execute('RotateZone', {
      taskQueue: second.taskQueue,
      workflowId: `rotate-zone-${ZONE}-again`,
      args: [{ zone: ZONE, grace: '0s' }],
    })) as WorkflowResult;
    assert.equal(next.outcome, 'completed');
  });
});

async function rootCredentials() {
  const { core } = adminKube(stack);
  const s = await core.readNamespacedSecret({ namespace: 'dashi-platform', name: 'rustfs-root' });
  const get = (k: string) => Buffer.from(s.data?.[k] ?? '', 'base64').toString('utf8');
  return { accessKey: get('access-key'), secretKey: get('secret-key') };
}
