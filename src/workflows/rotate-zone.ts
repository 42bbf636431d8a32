import { condition, continueAsNew, patched, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import { parseDuration, formatDuration } from '../inventory/duration';
import { findZone } from '../inventory/lookup';
import { ZONE_DEFAULTS, type Zone } from '../inventory/schema';
import { waits } from './activities';
import { revokeNowUpdate, type UpdateArg } from './definitions';
import {
  boundedGraceWait,
  POD_POLL_MAX_MS,
  POD_POLL_START_MS,
  resumeGraceWait,
  type Rotation,
} from './grace-wait';
import { GRACE_BOUND, strictInput, zoneRunbookCalls } from './patches';
import { invalidInput, Runbook } from './runbook';
import { type Escalation, type Plan, type RotateZoneInput, type WorkflowResult } from './types';

/** How long consumers get to roll out before the rotation is undone. */
const ROLLOUT_TIMEOUT_MS = 10 * 60_000;

function zonePlan(
  zone: Zone,
  strategy: 'overlap' | 'in-place',
  graceMs: number,
  maxGraceMs: number,
  consumers: string[],
  secret: string,
): Plan {
  const restart = consumers.length
    ? consumers.map((c) => ({
        action: 'restart' as const,
        target: c,
        detail: 'rollout restart, then wait for rollout status',
      }))
    : [
        {
          action: 'restart' as const,
          target: '(none)',
          detail: 'no Deployment/StatefulSet/DaemonSet references the Secret',
        },
      ];
  const pending = `${zone.secret.namespace}/${zone.secret.name}-pending`;
  const common = [
    {
      action: 'create' as const,
      target: `Secret ${pending}`,
      detail: 'new credential and the previous one, recorded before the store changes',
    },
  ];
  if (strategy === 'overlap') {
    return {
      workflow: 'RotateZone',
      zone: zone.name,
      strategy,
      actions: [
        ...common,
        {
          action: 'create',
          target: `service account of ${zone.user}`,
          detail: 'holds the new key; inherits the zone policy',
        },
        { action: 'verify', target: 'new key', detail: 'policy smoke before anyone uses it' },
        { action: 'patch', target: `Secret ${secret}`, detail: 'access-key/secret-key ← new key' },
        ...restart,
        { action: 'verify', target: 'Secret key', detail: 'policy smoke with what the Secret holds' },
        {
          action: 'wait',
          target: 'previous key',
          detail: `stays valid for ${formatDuration(graceMs)} and while pods started before the switch reference the Secret, at most ${formatDuration(maxGraceMs)} (maxGrace); revokeNow ends the wait`,
        },
        {
          action: 'revoke',
          target: 'previous key',
          detail: `its service account is deleted; at maxGrace ${formatDuration(maxGraceMs)} it is deleted even if such pods still run, and the run escalates naming them (no consumer runs that long)`,
        },
        { action: 'delete', target: `Secret ${pending}`, detail: 'clean-up' },
      ],
      expectedDowntime: 'none: the previous key stays valid until every consumer uses the new one',
      notes: [],
    };
  }
  return {
    workflow: 'RotateZone',
    zone: zone.name,
    strategy,
    actions: [
      ...common,
      {
        action: 'patch',
        target: `store user ${zone.user}`,
        detail: 'secret replaced: the previous key stops working NOW',
      },
      { action: 'verify', target: 'new key', detail: 'policy smoke' },
      {
        action: 'patch',
        target: `Secret ${secret}`,
        detail: 'secret-key ← new key (access-key stays the user name)',
      },
      ...restart,
      { action: 'verify', target: 'Secret key', detail: 'policy smoke with what the Secret holds' },
      { action: 'delete', target: `Secret ${pending}`, detail: 'clean-up' },
    ],
    expectedDowntime: consumers.length
      ? `consumers fail from the store change until their restarted pods are ready (typically the rollout time; up to ${formatDuration(ROLLOUT_TIMEOUT_MS)} before the rotation is undone)`
      : 'clients holding the old key fail from the store change until they re-read the Secret',
    notes: [
      'in-place keeps the seed contract (access-key = user name) at the cost of a failure window; prefer overlap',
    ],
  };
}

/**
 * Rotates one zone's credential (DESIGN §3). `overlap` (default): a new service-account
 * key is verified, promoted into the Secret, consumers roll, and only after the grace
 * period and once no pod started before the switch still runs is the old key revoked —
 * no consumer ever holds a dead key. Any failure before the revocation restores the
 * previous Secret, restarts consumers again and removes the new key.
 */
export async function RotateZone(raw: RotateZoneInput): Promise<WorkflowResult> {
  const input = strictInput('RotateZone', raw);
  const { v2, acts, smoke } = zoneRunbookCalls();
  const rb = new Runbook('RotateZone', input.zone);
  return rb.run(async () => {
    const info = workflowInfo();
    // Every restart of this run carries a distinct, later restartedAt: with local steps the
    // workflow clock may not move between them, and an equal value would restart nothing.
    let lastRestartMs = 0;
    const restartInstant = (notBefore: number) => {
      lastRestartMs = Math.max(Date.now(), notBefore, lastRestartMs + 1);
      return new Date(lastRestartMs).toISOString();
    };
    let revokeNow: { by?: string; reason?: string } | undefined;
    setHandler(
      revokeNowUpdate,
      (arg) => {
        revokeNow = arg ?? {};
        return `previous key of zone ${input.zone} will be revoked now${arg?.by ? ` (requested by ${arg.by})` : ''}`;
      },
      {
        validator: (_arg: UpdateArg) => {
          if (rb.status.phase !== 'waiting-grace') {
            throw new Error(
              `revokeNow is accepted only while the previous key waits out its grace period; phase is "${rb.status.phase}"`,
            );
          }
        },
      },
    );
    if (input.continued) return waitThenRevoke(resumeGraceWait(rb, input.continued));

    const inventory = await rb.step('load inventory', () => acts.inventorySnapshot());
    let zone: Zone;
    try {
      zone = findZone(inventory, input.zone);
    } catch (err) {
      throw invalidInput((err as Error).message);
    }
    const strategy = input.strategy ?? zone.strategy;
    const graceMs = input.grace === undefined ? zone.graceMs : parseDuration(input.grace)!;
    // Histories recorded before maxGrace existed carry inventories without it.
    const maxGrace = input.maxGrace ?? zone.maxGrace ?? ZONE_DEFAULTS.maxGrace;
    const maxGraceMs = parseDuration(maxGrace)!;
    if (maxGraceMs < graceMs)
      throw invalidInput(
        `maxGrace ${maxGrace} is shorter than grace ${formatDuration(graceMs)}: maxGrace bounds the whole wait`,
      );
    const secretName = `${zone.secret.namespace}/${zone.secret.name}`;

    await rb.step('check no conflicting rotation runs', () =>
      acts.assertNoConflictingRun({
        workflowType: 'RotateZone',
        workflowId: info.workflowId,
        startTime: info.startTime.toISOString(),
        parentId: info.parent?.workflowId,
      }),
    );
    const current = await rb.step(
      'read current Secret',
      () => acts.describeZoneSecret(zone.name),
      (c) => (c.exists ? `${c.accessKey} ${c.fingerprint}` : 'missing'),
    );
    if (!current.exists) {
      throw rb.failure(
        new Error(`Secret ${secretName} holds no credential: run BootstrapCluster first`),
        'PreconditionFailed',
      );
    }
    rb.status.fingerprints.previous = current.fingerprint;
    const consumers = await rb.step(
      'discover consumers',
      () => acts.zoneConsumers(zone.name),
      (c) => c.map((r) => `${r.kind}/${r.name}`).join(', ') || 'none',
    );
    const consumerNames = consumers.map((c) => `${c.kind}/${c.namespace}/${c.name}`);

    if (input.dryRun) {
      const plan = zonePlan(zone, strategy, graceMs, maxGraceMs, consumerNames, secretName);
      rb.setPhase('completed');
      return {
        workflow: 'RotateZone',
        outcome: 'planned',
        plan,
        zones: [],
        summary: `plan for zone ${zone.name} (${strategy})`,
      };
    }

    let promotedAt = '';
    try {
      rb.onFailure('delete the pending Secret', () => acts.deleteZonePending(zone.name));
      const pending = await rb.step(
        'record pending credential',
        () => acts.recordZonePending(zone.name, { workflowId: info.workflowId, strategy }),
        (p) => `${p.accessKey} ${p.fingerprint}`,
      );
      rb.status.fingerprints.pending = pending.fingerprint;

      rb.onFailure(
        strategy === 'overlap'
          ? 'remove the new credential from the store'
          : 'put the previous user secret back',
        () => acts.discardPendingIdentity(zone.name),
      );
      await rb.step(
        strategy === 'overlap' ? 'issue new service account' : 'replace user secret (failure window starts)',
        () => acts.ensureZoneIdentity(zone.name, 'pending'),
        (r) => r.credential,
      );
      await rb.step(
        'smoke the new credential',
        () => smoke.smokeZone(zone.name, 'pending'),
        (r) => `${r.passed}/${r.cells} cells`,
      );

      rb.onFailure('restore the previous Secret and restart consumers', async () => {
        const at = v2 ? restartInstant(0) : new Date().toISOString();
        await acts.restoreZonePrevious(zone.name, { workflowId: info.workflowId, at });
        if (v2 && !consumers.length) return;
        await acts.restartWorkloads(consumers, at);
        await waits.waitForRollouts(consumers, ROLLOUT_TIMEOUT_MS);
      });
      promotedAt = new Date().toISOString();
      const promoted = await rb.step(`promote: patch Secret ${secretName}`, () =>
        acts.promoteZonePending(zone.name, { workflowId: info.workflowId, at: promotedAt }),
      );
      rb.status.fingerprints.current = pending.fingerprint;
      let restartAt: string;
      if (v2) {
        // The activity's own clock after the patch: the workflow clock may lag it. Pods of
        // the restart carry a later restartedAt, which podsHoldingPrevious recognises.
        promotedAt = promoted.writtenAt ?? promotedAt;
        restartAt = restartInstant(Date.parse(promotedAt) + 1);
      } else {
        // Kubernetes records pod start times in whole seconds: restarted pods must start in a
        // later second than the promotion to be told apart from pods that hold the previous key.
        const secondOf = (ms: number) => Math.floor(ms / 1000);
        if (secondOf(Date.now()) === secondOf(Date.parse(promotedAt)))
          await sleep(1000 - (Date.now() % 1000));
        restartAt = new Date().toISOString();
      }
      // A zone without consumers has nothing to roll: no round trip through the server for it.
      if (!v2 || consumers.length) {
        await rb.step(
          'restart consumers',
          () => acts.restartWorkloads(consumers, restartAt),
          (r) => r.join(', ') || 'none',
        );
        await rb.step(
          'wait for rollouts',
          () => waits.waitForRollouts(consumers, ROLLOUT_TIMEOUT_MS),
          (r) => r.join('; ') || 'none',
        );
      }
      await rb.step(
        'smoke what the Secret holds',
        () => smoke.smokeZone(zone.name, 'current'),
        (r) => `${r.passed}/${r.cells} cells`,
      );
    } catch (err) {
      await rb.compensate(err);
      throw rb.failure(err);
    }
    rb.commit();
    return waitThenRevoke({
      strategy,
      previousFingerprint: current.fingerprint!,
      pendingFingerprint: rb.status.fingerprints.pending!,
      promotedAt,
      restarted: consumerNames,
      grace: { graceMs, maxGrace, maxGraceMs },
    });

    /** After the switch: the grace wait (overlap), the revocation and the result. */
    async function waitThenRevoke(r: Rotation): Promise<WorkflowResult> {
      let escalation: Escalation | undefined;
      if (r.strategy === 'overlap') {
        if (r.resume || patched(GRACE_BOUND)) {
          const wait = await boundedGraceWait(rb, r, input.zone, () => revokeNow, acts);
          if ('continueWith' in wait) return continueAsNew<typeof RotateZone>(wait.continueWith);
          escalation = wait.escalation;
        } else {
          await unboundedGraceWait(r);
        }
      }
      // in-place revokes too: when the zone moves off a service account, that account must not
      // outlive the switch (the user's own key was already replaced in the store).
      const revoked = await rb.step(
        revokeNow
          ? `revoke previous credential (revokeNow${revokeNow.by ? ` by ${revokeNow.by}` : ''})`
          : escalation
            ? 'revoke previous credential (maxGrace reached: escalated)'
            : 'revoke previous credential',
        () => acts.revokePrevious(input.zone),
        (res) => res,
      );
      await rb.step('clean up the pending Secret', () => acts.deleteZonePending(input.zone));
      rb.setPhase(escalation ? 'escalated' : 'completed');
      rb.status.step = null;
      return {
        workflow: 'RotateZone',
        outcome: 'completed',
        zones: [
          {
            zone: input.zone,
            strategy: r.strategy,
            previousFingerprint: r.previousFingerprint,
            newFingerprint: r.pendingFingerprint,
            restarted: r.restarted,
            revoked,
            smoke: 'passed',
            ...(escalation ? { escalation } : {}),
          },
        ],
        summary:
          `zone ${input.zone} rotated (${r.strategy}): ${r.previousFingerprint} → ${r.pendingFingerprint}` +
          (escalation ? `; ESCALATED: ${escalation.message}` : ''),
      };
    }

    /** The wait of runs recorded before GRACE_BOUND: grace, then pods, without a bound. */
    async function unboundedGraceWait(r: Rotation): Promise<void> {
      const graceMs = r.grace!.graceMs;
      rb.setPhase('waiting-grace', `previous key stays valid for ${formatDuration(graceMs)} (grace)`, [
        'revokeNow',
      ]);
      if (!v2 || graceMs > 0) await condition(() => revokeNow !== undefined, graceMs);
      let pollMs = POD_POLL_START_MS;
      while (revokeNow === undefined) {
        const holders = await rb.step(
          'check pods still holding the previous key',
          () => acts.podsHoldingPrevious(input.zone, r.promotedAt),
          (p) => (p.length ? p.join(', ') : 'none'),
        );
        if (!holders.length) break;
        rb.setPhase(
          'waiting-grace',
          `previous key stays valid while ${holders.length} pod(s) started before the switch still run: ${holders.slice(0, 5).join(', ')}`,
          ['revokeNow'],
        );
        await condition(() => revokeNow !== undefined, pollMs);
        pollMs = Math.min(pollMs * 2, POD_POLL_MAX_MS);
      }
      rb.setPhase('running');
    }
  });
}
