import {
  ApplicationFailure,
  condition,
  continueAsNew,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { PendingRef } from '../activities/kubernetes';
import type { WorkloadRef } from '../kube/rollout-status';
import { parseDuration, formatDuration } from '../inventory/duration';
import { zoneTarget } from '../approvals/decisions';
import { findZone, type InventorySnapshot } from '../inventory/lookup';
import { ZONE_DEFAULTS, type Zone } from '../inventory/schema';
import { waits as legacyWaits } from './activities';
import { decidedArg, DecisionGate } from './approvals';
import { revokeNowUpdate, type UpdateArg } from './definitions';
import { boundedGraceWait, resumeGraceWait, type Rotation } from './grace-wait';
import { AUTHORIZED_DECISIONS, GRACE_BOUND, PatchSet, RUN_LOCKS } from './patches';
import { durableCalls, refuseForgedContinuation, strictInput, zoneRunbookCalls } from './run-start';
import { workPoolNotes, zonePlan } from './plans';
import { invalidInput } from './errors';
import { Runbook } from './runbook';
import { UPDATE } from './names';
import { WAIT, smokeResult } from './summaries';
import { type RotateZoneInput } from './inputs';
import { type ClusterEvent, type Escalation, type WorkflowResult } from './types';

const UNDO_RESTORE = 'restore the previous Secret and restart consumers';
const UNDO_NEW_CREDENTIAL = 'remove the new credential from the store';
const UNDO_USER_SECRET = 'put the previous user secret back';
/** Waits (bounded) until no pod that could hold the new key runs; else the key is kept. */
async function untilNoPodHolds(
  rb: Runbook,
  holders: () => Promise<string[]>,
  pending: PendingRef,
): Promise<void> {
  // After the undo's rollouts: how long pods that could hold the new key get to go away.
  for (const delayMs of [...rb.constants.undoPodChecksMs, 0]) {
    const pods = await rb.step(
      'check pods that could hold the new key',
      holders,
      (p) => p.join(', ') || 'none',
    );
    if (!pods.length) return;
    if (!delayMs) {
      throw ApplicationFailure.nonRetryable(
        `new key ${pending.accessKey} ${pending.fingerprint} kept in the store: ${pods.length} pod(s) that could hold it still run: ${pods.slice(0, 5).join(', ')}`,
        'KeyStillHeld',
      );
    }
    await sleep(delayMs, { summary: WAIT.undoPodCheck });
  }
}

/** Where each key of the zone is after an incomplete undo: IDs and fingerprints only. */
function whereZoneKeys(
  rb: Runbook,
  strategy: 'overlap' | 'in-place',
  secretName: string,
  pending: PendingRef,
): string {
  const done = (name: string) =>
    rb.status.steps.some((s) => s.name === `compensate: ${name}` && s.state === 'done');
  const previous = `previous ${pending.previousAccessKey} ${pending.previousFingerprint}`;
  const fresh = `new ${pending.accessKey} ${pending.fingerprint}`;
  // The promotion and the restore each record what the Secret holds once they succeeded.
  const holds = rb.status.fingerprints.current;
  const promote = rb.status.steps.find((s) => s.name.startsWith('promote: '));
  const secret =
    holds === pending.fingerprint
      ? fresh
      : promote?.state === 'failed' && holds === undefined
        ? `${previous} (its patch to the new key failed and may have landed)`
        : previous;
  const store =
    strategy === 'overlap'
      ? `${previous} valid in the store; ${fresh} ${done(UNDO_NEW_CREDENTIAL) ? 'removed' : 'still valid'}`
      : `user secret in the store is the ${done(UNDO_USER_SECRET) ? previous : fresh}`;
  return `Secret ${secretName} holds the ${secret}; ${store}; the pending record ${secretName}-pending is kept with both`;
}

/** The switch, told on the Secret and on each workload the run restarted. */
function rotatedEvents(
  strategy: 'overlap' | 'in-place',
  pending: PendingRef,
  secretName: string,
  consumers: WorkloadRef[],
  workflowId: string,
): ClusterEvent[] {
  const names = consumers.map((c) => `${c.kind}/${c.namespace}/${c.name}`);
  const events: ClusterEvent[] = [
    {
      target: { secretOf: 'zone' },
      type: 'Normal',
      reason: 'Rotated',
      message:
        `now holds access key ${pending.accessKey} (${pending.fingerprint}), replacing ${pending.previousAccessKey} (${pending.previousFingerprint}); ` +
        (strategy === 'overlap'
          ? 'the previous key stays valid until it is revoked after the grace wait'
          : 'in-place: the previous secret no longer works') +
        ` (${workflowId})`,
    },
  ];
  if (!consumers.length) return events;
  events.push({
    target: { secretOf: 'zone' },
    type: 'Normal',
    reason: 'ConsumersRestarted',
    message: `restarted and rolled out onto ${pending.accessKey} (${pending.fingerprint}): ${names.join(', ')}`,
  });
  for (const c of consumers) {
    events.push({
      target: c,
      type: 'Normal',
      reason: 'ConsumersRestarted',
      message: `restarted to load access key ${pending.accessKey} (${pending.fingerprint}) from Secret ${secretName}; rolled out (${workflowId})`,
    });
  }
  return events;
}

/**
 * Rotates one zone's credential (docs/design.md "RotateZone"). `overlap` (default): a new service-account
 * key is verified, promoted into the Secret, consumers roll, and only after the grace
 * period and once no pod started before the switch still runs is the old key revoked —
 * no consumer ever holds a dead key. Any failure before the revocation restores the
 * previous Secret, restarts consumers again and removes the new key.
 */
export async function RotateZone(raw: RotateZoneInput): Promise<WorkflowResult> {
  const patches = new PatchSet();
  const input = strictInput(patches, 'RotateZone', raw);
  refuseForgedContinuation(patches, input);
  const calls = zoneRunbookCalls(patches);
  const { v2 } = calls;
  const rb = new Runbook('RotateZone', patches, input.zone);
  const { acts, smoke, waits } = rb.proxies({ ...calls, waits: legacyWaits }, v2);
  const rolloutTimeoutMs = rb.constants.rolloutTimeoutMs;
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
    // Decisions authorized by the inventory's approvals.authority (src/workflows/approvals.ts); a
    // run continuing a grace wait reads the inventory when the first revokeNow arrives.
    const authorized = patches.has(AUTHORIZED_DECISIONS);
    let approvals: InventorySnapshot['approvals'] | undefined;
    const gate = new DecisionGate(
      () => approvals,
      () => zoneTarget(input.zone),
    );
    const wrongPhase = () =>
      `revokeNow is accepted only while the previous key waits out its grace period; phase is "${rb.status.phase}"`;
    const revoke = (decided: UpdateArg) => {
      revokeNow = decided;
      return `previous key of zone ${input.zone} will be revoked now${decided.by ? ` (requested by ${decided.by})` : ''}`;
    };
    setHandler(
      revokeNowUpdate,
      (arg) => {
        if (!authorized) return revoke(arg ?? {});
        return gate.authorize('revoke-now', arg).then((record) => {
          // The wait may have ended while the decisions were read.
          if (rb.status.phase !== 'waiting-grace')
            throw ApplicationFailure.nonRetryable(wrongPhase(), 'WrongPhase');
          (rb.status.decisions ??= []).push(record);
          return revoke(decidedArg(record));
        });
      },
      {
        validator: (_arg: UpdateArg) => {
          if (rb.status.phase !== 'waiting-grace') throw new Error(wrongPhase());
        },
      },
    );
    if (input.continued) {
      // The undo steps belonged to the run that rotated; this one only waits and revokes.
      rb.cancelNote =
        'this run continues a grace wait: both keys stay valid and the pending record stays for the next RotateZone of the zone to reconcile (rotator audit lists it)';
      rb.eventSubject = { secretOf: 'zone' };
      // The budgets the rotating run resolved (a continuation is this rotation, not a new one).
      if (input.continued.retries && rb.retryBudgets) rb.retryBudgets = input.continued.retries;
      return waitThenRevoke(resumeGraceWait(rb, input.continued));
    }

    const inventory = await rb.step('load inventory', () => acts.inventorySnapshot());
    if (authorized) approvals = inventory.approvals;
    rb.configureRetries(inventory.retries);
    let zone: Zone;
    try {
      zone = findZone(inventory, input.zone);
    } catch (err) {
      throw invalidInput((err as Error).message);
    }
    const strategy = input.strategy ?? zone.strategy;
    if (zone.workPools?.length) rb.status.workPools = workPoolNotes(zone, strategy);
    const graceMs = input.grace === undefined ? zone.graceMs : parseDuration(input.grace)!;
    // Histories recorded before maxGrace existed carry inventories without it.
    const maxGrace = input.maxGrace ?? zone.maxGrace ?? ZONE_DEFAULTS.maxGrace;
    const maxGraceMs = parseDuration(maxGrace)!;
    if (maxGraceMs < graceMs)
      throw invalidInput(
        `maxGrace ${maxGrace} is shorter than grace ${formatDuration(graceMs)}: maxGrace bounds the whole wait`,
      );
    const secretName = `${zone.secret.namespace}/${zone.secret.name}`;
    rb.eventSubject = { secretOf: 'zone' };

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
      const plan = zonePlan(zone, strategy, graceMs, maxGraceMs, consumerNames, secretName, rolloutTimeoutMs);
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
    // The lock is taken before anything can need undoing: a run refused because another
    // holds the zone has changed nothing, and ends as ConflictingRotation naming that run.
    const locked = patches.has(RUN_LOCKS)
      ? await rb.step(
          'take the zone lock: record pending credential',
          () =>
            acts.lockZonePending(zone.name, {
              owner: { workflowId: info.workflowId, runId: info.runId, workflowType: 'RotateZone' },
              strategy,
            }),
          (p) => `${p.accessKey} ${p.fingerprint}; ${p.found}`,
        )
      : undefined;
    // Set once the undo restored the Secret: pods started before it may hold the new key.
    let restoredAt: string | undefined;
    rb.endEvents = () =>
      restoredAt &&
      rb.status.steps.some((s) => s.name === `compensate: ${UNDO_RESTORE}` && s.state === 'done')
        ? consumers.map((c) => ({
            target: c,
            type: 'Warning' as const,
            reason: 'ConsumersRestarted' as const,
            message: `restarted back onto the previous key ${current.accessKey} (${current.fingerprint}) of Secret ${secretName}: the rotation was undone (${info.workflowId})`,
          }))
        : [];
    try {
      rb.onFailure('delete the pending Secret', () => acts.deleteZonePending(zone.name), { last: true });
      const pending =
        locked ??
        (await rb.step(
          'record pending credential',
          () => acts.recordZonePending(zone.name, { workflowId: info.workflowId, strategy }),
          (p) => `${p.accessKey} ${p.fingerprint}`,
        ));
      rb.status.fingerprints.pending = pending.fingerprint;
      rb.whereKeys = () => whereZoneKeys(rb, strategy, secretName, pending);

      // The store goes back only once the Secret did: else the two disagree (in-place: the
      // Secret's key would not work; overlap: consumers would lose the key they hold).
      rb.onFailure(
        strategy === 'overlap' ? UNDO_NEW_CREDENTIAL : UNDO_USER_SECRET,
        async () => {
          if (rb.careful && strategy === 'overlap' && restoredAt)
            await untilNoPodHolds(rb, () => acts.podsHoldingPrevious(zone.name, restoredAt!), pending);
          return acts.discardPendingIdentity(zone.name);
        },
        { needs: [UNDO_RESTORE] },
      );
      await rb.step(
        strategy === 'overlap' ? 'issue new service account' : 'replace user secret (failure window starts)',
        () => acts.ensureZoneIdentity(zone.name, 'pending'),
        (r) => r.credential,
      );
      await rb.step('smoke the new credential', () => smoke.smokeZone(zone.name, 'pending'), smokeResult);

      rb.onFailure(UNDO_RESTORE, async () => {
        const at = v2 ? restartInstant(0) : new Date().toISOString();
        await acts.restoreZonePrevious(zone.name, { workflowId: info.workflowId, at });
        rb.status.fingerprints.current = current.fingerprint;
        // The restart below carries `at`: only pods it did not replace may still hold the new key.
        restoredAt = new Date(Date.parse(at) - 1).toISOString();
        if (v2 && !consumers.length) return;
        await acts.restartWorkloads(consumers, at);
        await waits.waitForRollouts(consumers, rolloutTimeoutMs);
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
          await sleep(1000 - (Date.now() % 1000), { summary: WAIT.nextSecond });
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
          () => waits.waitForRollouts(consumers, rolloutTimeoutMs),
          (r) => r.join('; ') || 'none',
        );
      }
      await rb.step('smoke what the Secret holds', () => smoke.smokeZone(zone.name, 'current'), smokeResult);
      rb.announcer.send(rotatedEvents(strategy, pending, secretName, consumers, info.workflowId));
    } catch (err) {
      await rb.compensate(err);
      throw rb.failure(err);
    }
    // Until the revocation, a cancel (also in the grace wait) undoes the rotation: the
    // previous key is still valid, so consumers are restarted onto it and the new key is
    // deleted once no pod that could hold it runs. Finishing instead would revoke a key
    // pods started before the switch may still use.
    return waitThenRevoke({
      strategy,
      previousAccessKey: current.accessKey,
      previousFingerprint: current.fingerprint!,
      pendingFingerprint: rb.status.fingerprints.pending!,
      promotedAt,
      restarted: consumerNames,
      grace: { graceMs, maxGrace, maxGraceMs },
    });

    /** After the switch: the grace wait (overlap), the revocation and the result. */
    async function waitThenRevoke(r: Rotation): Promise<WorkflowResult> {
      let escalation: Escalation | undefined;
      let revoked = false;
      // in-place replaced the previous secret at the switch: only overlap leaves a previous key valid.
      if (rb.retryBudgets && r.strategy === 'overlap')
        rb.stillValid = () => (revoked ? undefined : stillValid(r));
      if (r.strategy === 'overlap') {
        if (r.resume || patches.has(GRACE_BOUND)) {
          const wait = await boundedGraceWait(rb, r, input.zone, () => revokeNow, acts);
          if ('continueWith' in wait) return continueAsNew<typeof RotateZone>(wait.continueWith);
          escalation = wait.escalation;
        } else {
          await unboundedGraceWait(r);
        }
      }
      rb.commit('the previous key is being revoked: revocation and clean-up finish, the new key stays');
      // in-place revokes too: when the zone moves off a service account, that account must not
      // outlive the switch (the user's own key was already replaced in the store).
      const revocation = await rb.step(
        revokeNow
          ? `revoke previous credential (revokeNow${revokeNow.by ? ` by ${revokeNow.by}` : ''})`
          : escalation
            ? 'revoke previous credential (maxGrace reached: escalated)'
            : 'revoke previous credential',
        () => durableCalls(calls, rb).revokePrevious(input.zone),
        (res) => res,
      );
      revoked = true;
      rb.announcer.queue({
        target: { secretOf: 'zone' },
        type: escalation ? 'Warning' : 'Normal',
        reason: 'PreviousKeyRevoked',
        message:
          `previous key ${r.previousFingerprint} revoked (${revocation})` +
          (revokeNow ? `: revokeNow${revokeNow.by ? ` by ${revokeNow.by}` : ''}` : '') +
          (escalation ? `; ESCALATED: ${escalation.message}` : '') +
          `; the Secret holds ${r.pendingFingerprint}`,
      });
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
            revoked: revocation,
            smoke: 'passed',
            ...(escalation ? { escalation } : {}),
          },
        ],
        summary:
          `zone ${input.zone} rotated (${r.strategy}): ${r.previousFingerprint} → ${r.pendingFingerprint}` +
          (escalation ? `; ESCALATED: ${escalation.message}` : ''),
      };
    }

    /** A failure past the switch names the key it leaves valid, and how to revoke it. */
    function stillValid(r: Rotation): { message: string; commands: string[] } {
      const key = r.previousAccessKey
        ? `${r.previousAccessKey} (${r.previousFingerprint})`
        : r.previousFingerprint;
      const revoke = `rotator start-workflow RotateZone --zone ${input.zone}`;
      return {
        message:
          `The previous key ${key} of zone ${input.zone} is STILL VALID in the store: consumers are on the new key ${r.pendingFingerprint}, ` +
          `and the pending record (the zone Secret's name + "-pending") is kept with both. Revoke it with \`${revoke}\` ` +
          "(its first step reconciles the record: it revokes the previous key, then rotates again); the schedule's next run does the same, " +
          'and `rotator audit` lists the record until then.',
        commands: [revoke, 'rotator audit'],
      };
    }

    /** The wait of runs recorded before GRACE_BOUND: grace, then pods, without a bound. */
    async function unboundedGraceWait(r: Rotation): Promise<void> {
      const graceMs = r.grace!.graceMs;
      rb.setPhase('waiting-grace', `previous key stays valid for ${formatDuration(graceMs)} (grace)`, [
        UPDATE.revokeNow,
      ]);
      if (!v2 || graceMs > 0)
        await condition(() => revokeNow !== undefined, graceMs, { summary: WAIT.grace });
      let pollMs = rb.constants.podPollStartMs;
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
          [UPDATE.revokeNow],
        );
        await condition(() => revokeNow !== undefined, pollMs, { summary: WAIT.gracePoll });
        pollMs = Math.min(pollMs * 2, rb.constants.podPollMaxMs);
      }
      rb.setPhase('running');
    }
  });
}
