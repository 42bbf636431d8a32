// Outages outlasted right after a zone's switch (issue 24, "Done when"), on real components: a
// MinIO process killed and held down for 3 minutes, one frozen with SIGSTOP for 3 minutes, and
// the apiserver refusing the worker's connections for 2 minutes. Each run still ends with the
// previous key revoked and `rotator audit` clean. Every outage is the test's own (test/support/
// outage.ts): its own store process, Kubernetes namespace, zone, consumer, Temporal namespace,
// task queue and worker, and an apiserver proxy only its worker uses, so the three run at once
// and beside any other file (PRIVATE in scripts/test-lanes.mjs).
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { statusQuery } from '../../src/workflows/definitions';
import { type RetryingStep, type WorkflowResult } from '../../src/workflows/types';
import { adminKube, eventually } from '../support/kube';
import { privateRotation, type PrivateRotation } from '../support/outage';
import { privateTemporalNamespace } from '../support/private-namespace';
import { waitPhase } from '../support/rotator';
import { getStack } from '../support/stack';

const stack = getStack();
const STORE_OUTAGE_MS = 3 * 60_000;
const APISERVER_OUTAGE_MS = 2 * 60_000;

interface Outage {
  begin(): Promise<void> | void;
  end(): Promise<void> | void;
  ms: number;
}

/**
 * Bootstraps the zone, rotates it, and plays the outage from the moment consumers are on the new
 * key (the grace wait) for `outage.ms`. Returns what the run showed while it retried and how it ended.
 */
async function rotateThrough(rot: PrivateRotation, outage: Outage) {
  const { client, taskQueue, zone } = rot;
  await client.workflow.execute('BootstrapCluster', {
    taskQueue,
    workflowId: `bootstrap-${rot.name}`,
    args: [{}],
  });
  const handle = await client.workflow.start('RotateZone', {
    taskQueue,
    workflowId: `rotate-zone-${zone}`,
    args: [{ zone, grace: '10s' }],
  });
  const switched = await waitPhase(handle, 'waiting-grace', 120_000);
  await outage.begin();
  const began = Date.now();
  // While it lasts, the run says which step fails, how often and why.
  const seen = await eventually(
    'a step retried during the outage',
    async () => (await handle.query(statusQuery)).retrying?.[0],
    outage.ms,
    1_000,
  );
  let last: RetryingStep = seen;
  while (Date.now() - began < outage.ms) {
    last = (await handle.query(statusQuery)).retrying?.[0] ?? last;
    await sleep(Math.min(5_000, Math.max(0, outage.ms - (Date.now() - began))));
  }
  await outage.end();
  const result: WorkflowResult = await handle.result();
  return { switched, seen, last, result, status: await handle.query(statusQuery) };
}

async function assertRevokedAndClean(rot: PrivateRotation, run: Awaited<ReturnType<typeof rotateThrough>>) {
  assert.equal(run.result.outcome, 'completed', run.result.summary);
  const z = run.result.zones[0]!;
  assert.equal(z.previousFingerprint, run.switched.fingerprints.previous);
  assert.ok(z.revoked, 'the previous key was revoked');
  assert.equal(run.status.phase, 'completed');
  assert.equal(run.status.retrying, undefined);
  const report = await rot.audit();
  assert.deepEqual(report.findings, [], JSON.stringify(report.findings));
}

describe('outages right after the switch (private store, proxy, namespaces)', { timeout: 9 * 60_000 }, () => {
  const rotations: PrivateRotation[] = [];
  after(async () => {
    await Promise.all(rotations.map((r) => r.close().catch(() => undefined)));
  });

  it('store refusing for 3 min, store frozen for 3 min, apiserver refusing for 2 min: each run revokes the previous key, audit clean', async () => {
    const retries = { escalateAfter: '1m' };
    // A Temporal namespace each: a run's conflict check looks at every run of its namespace, and
    // one scenario's BootstrapCluster must not refuse another's RotateZone.
    const own = (name: string, viaProxy = false) =>
      privateTemporalNamespace(stack, `rotator-outage-${name}`).then((temporalNamespace) =>
        privateRotation(stack, { name, temporalNamespace, retries, viaProxy }),
      );
    const [killed, frozen, api] = await Promise.all([own('killed'), own('frozen'), own('api', true)]);
    rotations.push(killed, frozen, api);

    const [k, f, a] = await Promise.all([
      rotateThrough(killed, {
        begin: () => killed.killStore(),
        end: () => killed.startStore(),
        ms: STORE_OUTAGE_MS,
      }),
      rotateThrough(frozen, {
        begin: () => frozen.freezeStore(),
        end: () => frozen.thawStore(),
        ms: STORE_OUTAGE_MS,
      }),
      rotateThrough(api, {
        begin: () => api.apiserver!.refuse(),
        end: () => api.apiserver!.open(),
        ms: APISERVER_OUTAGE_MS,
      }),
    ]);

    // Refused: the revocation (past the switch) retried within its hours-long budget.
    assert.equal(k.seen.kind, 'pastSwitch');
    assert.match(k.seen.step, /revoke previous credential/);
    assert.match(k.last.lastError, /ECONNREFUSED|unreachable|fetch failed/i);
    assert.ok(k.last.attempts >= 5, `${k.last.attempts} attempts`);
    // Frozen: attempts time out instead of being refused.
    assert.equal(f.seen.kind, 'pastSwitch');
    assert.match(f.seen.step, /revoke previous credential/);
    // The apiserver: the grace wait's pod check or the revocation (the root Secret) retried.
    assert.equal(a.seen.kind, 'pastSwitch');
    assert.match(a.last.lastError, /ECONNREFUSED|connect|socket/i);

    for (const [rot, run] of [
      [killed, k],
      [frozen, f],
      [api, a],
    ] as const)
      await assertRevokedAndClean(rot, run);

    // People were told (escalateAfter 1m): a StepRetrying Event on the zone Secret.
    for (const rot of [killed, frozen]) {
      const events = await adminKube(stack).core.listNamespacedEvent({ namespace: rot.namespace });
      const retrying = events.items.filter((e) => e.reason === 'StepRetrying');
      assert.ok(retrying.length >= 1, `${rot.name}: ${events.items.map((e) => e.reason).join(', ')}`);
      assert.equal(retrying[0]!.involvedObject.name, 'zone-creds');
      assert.match(retrying[0]!.message ?? '', /keeps failing|has failed \d+ time/);
    }
  });
});
