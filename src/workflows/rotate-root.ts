import { ApplicationFailure, condition, setHandler, workflowInfo } from '@temporalio/workflow';
import { formatDuration, parseDuration } from '../inventory/duration';
import { acts as legacyActs, smoke as legacySmoke, waits as legacyWaits } from './activities';
import { ROOT_TARGET } from '../approvals/decisions';
import type { InventorySnapshot } from '../inventory/lookup';
import { decidedArg, DecisionGate, inputApproval } from './approvals';
import {
  AUTHORIZED_DECISIONS,
  IAM_REBUILD,
  PatchSet,
  ROOT_STRATEGIES,
  RUN_LOCKS,
  ZONES_CONCURRENTLY,
} from './patches';
import { approveUpdate, resumeUpdate, rollbackUpdate, type UpdateArg } from './definitions';
import { strictInput } from './run-start';
import { everyZone } from './every-zone';
import { errorMessage, errorType } from './errors';
import { FAILURE, UPDATE } from './names';
import { rootPlan } from './plans';
import { chooseRootRestart, planRootRestart, rollOrder, SINGLE_POD, type RootStrategy } from './root-restart';
import { Runbook } from './runbook';
import { WAIT, smokeResult } from './summaries';
import { type RotateRootInput } from './inputs';
import { type WorkflowResult } from './types';

const UNDO_ROOT = 'roll back to the previous root';

/** A duration the input schema already checked, or the fallback. */
function durationOr(text: string | undefined, fallback: number): number {
  return text === undefined ? fallback : (parseDuration(text) ?? fallback);
}

/**
 * Rotates the store's root key (docs/design.md "RotateRoot"): high blast radius, so it waits for approval,
 * and when the restarted store does not come back within the restart window it PAUSES
 * for on-call to `resume` (wait another window) or `rollback` (restore the previous root,
 * restart, verify) — rolling back by itself when nobody answers within pauseTimeout.
 */
export async function RotateRoot(raw: RotateRootInput = {}): Promise<WorkflowResult> {
  const patches = new PatchSet();
  const input = strictInput(patches, 'RotateRoot', raw);
  const rb = new Runbook('RotateRoot', patches);
  const { acts, smoke, waits } = rb.proxies(
    { acts: legacyActs, smoke: legacySmoke, waits: legacyWaits },
    false,
  );
  return rb.run(async () => {
    const info = workflowInfo();
    // Decisions authorized by the inventory's approvals.authority (src/workflows/approvals.ts).
    const authorized = patches.has(AUTHORIZED_DECISIONS);
    let approval: UpdateArg | undefined =
      input.approve && !authorized ? { by: 'input (approve: true)' } : undefined;
    let decision: { kind: 'resume' | 'rollback'; arg: UpdateArg } | undefined;

    // Set once the inventory is loaded: no update is accepted before (the validators check the phase).
    let approvals: InventorySnapshot['approvals'] | undefined;
    const gate = new DecisionGate(
      () => approvals!,
      () => ROOT_TARGET,
    );
    /**
     * The update's arg, with who decided as the authority says (a refusal throws: the run keeps
     * waiting). A run without the patch takes the arg as it comes, synchronously, as it always did.
     */
    const decide = <T>(
      action: 'approve' | 'resume' | 'rollback',
      phase: string,
      arg: UpdateArg | undefined,
      apply: (decided: UpdateArg) => T,
    ): T | Promise<T> => (authorized ? authorize(action, phase, arg).then(apply) : apply(arg ?? {}));
    const authorize = async (
      action: 'approve' | 'resume' | 'rollback',
      phase: string,
      arg: UpdateArg | undefined,
    ) => {
      const record = await gate.authorize(action, arg);
      // The phase may have moved on while the decisions were read (a timeout, another update).
      if (rb.status.phase !== phase)
        throw ApplicationFailure.nonRetryable(
          `${action} is accepted only in phase "${phase}"; phase is "${rb.status.phase}"`,
          'WrongPhase',
        );
      (rb.status.decisions ??= []).push(record);
      return decidedArg(record);
    };
    const onlyWhen = (phase: string, what: string) => (_arg: UpdateArg) => {
      if (rb.status.phase !== phase)
        throw new Error(`${what} is accepted only in phase "${phase}"; phase is "${rb.status.phase}"`);
    };
    setHandler(
      approveUpdate,
      (arg) =>
        decide('approve', 'awaiting-approval', arg, (decided) => {
          approval = decided;
          return `root rotation approved${decided.by ? ` by ${decided.by}` : ''}`;
        }),
      { validator: onlyWhen('awaiting-approval', 'approve') },
    );
    setHandler(
      resumeUpdate,
      (arg) =>
        decide('resume', 'paused', arg, (decided) => {
          decision = { kind: 'resume', arg: decided };
          return `waiting another restart window${authorized && decided.by ? ` (resumed by ${decided.by})` : ''}`;
        }),
      { validator: onlyWhen('paused', 'resume') },
    );
    setHandler(
      rollbackUpdate,
      (arg) =>
        decide('rollback', 'paused', arg, (decided) => {
          decision = { kind: 'rollback', arg: decided };
          return `rolling back to the previous root${authorized && decided.by ? ` (by ${decided.by})` : ''}`;
        }),
      { validator: onlyWhen('paused', 'rollback') },
    );

    const inventory = await rb.step('load inventory', () => acts.inventorySnapshot());
    rb.configureRetries(inventory.retries);
    const restartTimeoutMs = durationOr(input.restartTimeout, inventory.store.restartTimeoutMs);
    if (authorized) {
      approvals = inventory.approvals;
      if (input.approve) {
        const record = inputApproval(approvals);
        (rb.status.decisions ??= []).push(record);
        approval = decidedArg(record);
      }
    }
    const pauseTimeoutMs = durationOr(input.pauseTimeout, inventory.store.pauseTimeoutMs);
    const approvalTimeoutMs = durationOr(input.approvalTimeout, rb.constants.approvalTimeoutMs);
    const workload = { ...inventory.store.workload };
    const workloadName = `${workload.kind}/${workload.namespace}/${workload.name}`;

    await rb.step('check no conflicting rotation runs', () =>
      acts.assertNoConflictingRun({
        workflowType: 'RotateRoot',
        workflowId: info.workflowId,
        startTime: info.startTime.toISOString(),
      }),
    );
    const identity = await rb.step(
      'preflight: current root works',
      () => acts.verifyRoot('current'),
      (i) =>
        `${i.kind} ${i.version ?? '(version unknown)'}${i.iamSurvivesRootChange ? '' : ' — IAM is lost on root change; zones will be recreated'}`,
    );
    const root = await rb.step(
      'read root Secret',
      () => acts.describeRootSecret(),
      (r) => `${r.accessKey} ${r.fingerprint}`,
    );
    rb.status.fingerprints.previous = root.fingerprint;
    // How the store's pods restart onto the new root (issue 25 points 2 and 3). Runs recorded
    // before preflight read the topology had one store pod. Before root-strategies the restart
    // was the workload's rollout restart, which on more than one pod replaces them one at a time
    // checking nothing: the rolling conditions applied there, and it was refused.
    const strategies = patches.has(ROOT_STRATEGIES);
    const topology = identity.topology ?? SINGLE_POD;
    const planFor = (strategy: RootStrategy) =>
      planRootRestart({
        kind: identity.kind,
        workload: workloadName,
        topology,
        strategy,
        iamSurvivesRootChange: identity.iamSurvivesRootChange,
        restartTimeout: formatDuration(restartTimeoutMs),
        ...(strategies && {
          rolling: {
            podsWithEndpoints: topology.podsWithEndpoints ?? 0,
            settleSeconds: topology.minReadySeconds ?? 0,
          },
        }),
      });
    const restart = strategies
      ? chooseRootRestart(input.strategy ?? inventory.store.rootStrategy, planFor)
      : planFor(topology.replicas > 1 ? 'rolling' : 'all-at-once');
    const rolling = strategies && restart.strategy === 'rolling';
    // Every pod deleted together: a rollout restart of several pods replaces them one at a time.
    const podsAtOnce = strategies && !rolling && topology.replicas > 1;

    if (input.dryRun) {
      rb.setPhase('completed');
      return {
        workflow: 'RotateRoot',
        outcome: 'planned',
        zones: [],
        summary: 'plan for the root rotation',
        plan: rootPlan(inventory, {
          approve: Boolean(input.approve),
          approvalTimeoutMs,
          restartTimeoutMs,
          pauseTimeoutMs,
          workloadName,
          identity,
          restart,
        }),
      };
    }
    if (restart.refused) {
      throw rb.failure(
        new Error(`refused before anything changed: ${restart.refused.reason}. Fix: ${restart.refused.fix}`),
        FAILURE.topologyRefused,
      );
    }

    if (!approval) {
      rb.setPhase(
        'awaiting-approval',
        `root rotation needs approval (expires in ${formatDuration(approvalTimeoutMs)})`,
        [UPDATE.approve],
      );
      rb.announcer.send([], {
        kind: 'awaiting-approval',
        title: 'RotateRoot awaits approval',
        text: `the store's root key ${root.accessKey} (${root.fingerprint}) is to be rotated, ${restart.strategy}: ${strategies ? restart.expectedDowntime : `full store downtime while ${workloadName} restarts`}. Nothing changes before the approval.`,
        deadline: {
          at: new Date(Date.now() + approvalTimeoutMs).toISOString(),
          what: 'the request expires unapproved (nothing changed)',
        },
        commands: [`rotator approve ${info.workflowId} --by <you> --reason <change ticket>`],
      });
      if (!(await condition(() => approval !== undefined, approvalTimeoutMs, { summary: WAIT.approval }))) {
        throw rb.failure(
          new Error(`not approved within ${formatDuration(approvalTimeoutMs)}; nothing was changed`),
          'NotApproved',
        );
      }
    }
    rb.setPhase('running');
    rb.status.steps.push({
      name: `approved${approval!.by ? ` by ${approval!.by}` : ''}${approval!.reason ? `: ${approval!.reason}` : ''}`,
      state: 'done',
      startedAt: new Date().toISOString(),
      endedAt: new Date().toISOString(),
    });

    rb.eventSubject = { secretOf: 'root' };
    let rolledBackOnRequest: string | undefined;
    // Workflow clock (task times): the store's downtime and the zone-key refusal window.
    let restartedAt = 0;
    let storeBackAt = 0;
    // Set before the restart step runs: a restart that failed may still have begun.
    let storeRestarted = false;
    // Rolling: the pods whose restart was asked for, in order (set before each restart step).
    const podsRestarted: string[] = [];
    // Locked before anything changes: a refusal (a zone or the root held by an open run)
    // leaves nothing to undo.
    const locked = patches.has(RUN_LOCKS)
      ? await rb.step(
          'take the root lock: record pending root',
          () =>
            acts.lockRootPending({
              owner: { workflowId: info.workflowId, runId: info.runId, workflowType: 'RotateRoot' },
            }),
          (p) => `${p.fingerprint}; ${p.found}`,
        )
      : undefined;
    try {
      rb.onFailure('delete the pending root Secret', () => acts.deleteRootPending(), { last: true });
      const pending =
        locked ??
        (await rb.step(
          'record pending root',
          () => acts.recordRootPending({ workflowId: info.workflowId }),
          (p) => p.fingerprint,
        ));
      rb.status.fingerprints.pending = pending.fingerprint;
      const rootSecret = `${inventory.store.rootSecret.namespace}/${inventory.store.rootSecret.name}`;
      rb.whereKeys = () =>
        `root Secret ${rootSecret} holds ${rb.status.fingerprints.current ?? root.fingerprint} (access key ${root.accessKey}); ` +
        `the store was ${storeRestarted ? 'restarted and may run on either root' : `not restarted: it runs on the previous root ${root.fingerprint}`}; ` +
        `the pending record ${rootSecret}-pending is kept with the previous ${root.fingerprint} and the new ${pending.fingerprint}`;

      rb.endEvents = () =>
        rb.status.steps.some((s) => s.name === `compensate: ${UNDO_ROOT}` && s.state === 'done') &&
        storeRestarted
          ? [
              {
                target: workload,
                type: 'Warning',
                reason: 'ConsumersRestarted',
                message: `restarted back onto the previous root ${root.fingerprint} from Secret ${rootSecret}: the root rotation was rolled back (${info.workflowId})`,
              },
            ]
          : [];
      // Each part only after the one before it succeeded (a throw ends the undo there); the
      // store is restarted only when this run restarted it: a failed patch changed nothing
      // the running store uses.
      rb.onFailure(UNDO_ROOT, async () => {
        const at = new Date().toISOString();
        await acts.restoreRootPrevious({ workflowId: info.workflowId, at });
        rb.status.fingerprints.current = root.fingerprint;
        // A short forward window (a test's seconds) must not fail the rollback of a store that
        // starts slowly (a RustFS restarting twice in a row takes longer than MinIO).
        const rollbackWaitMs = Math.max(restartTimeoutMs * 2, rb.constants.minRollbackWaitMs);
        if (rolling) {
          // Back one pod at a time, the last one asked first (it may be the one not back): the
          // others keep serving, and the pods never restarted still run on the previous root.
          for (const pod of [...podsRestarted].reverse()) {
            const [replaced] = await acts.restartStorePods([pod]);
            await waits.waitForStoreNode({
              pod,
              replacedUid: replaced!.uid,
              expectFingerprint: root.fingerprint!,
              timeoutMs: rollbackWaitMs,
            });
          }
        } else if (podsAtOnce) {
          if (storeRestarted) await acts.restartStorePods();
        } else if (storeRestarted || !rb.careful) {
          await acts.restartWorkloads([workload], at);
          // A store pod that never became Ready blocks the StatefulSet's rollout for good.
          await acts.forceRollback(workload);
        }
        // Every node back on the previous root (each asked directly where the inventory names them).
        await waits.waitForStoreWithRoot({ timeoutMs: rollbackWaitMs, expectFingerprint: root.fingerprint! });
        if (!storeRestarted && rb.careful) return;
        for (const z of inventory.zones) {
          await acts.ensureZoneIdentity(z.name, 'current');
          await smoke.smokeZone(z.name, 'current');
        }
      });
      const at = new Date().toISOString();
      await rb.step('patch root Secret', () => acts.promoteRootPending({ workflowId: info.workflowId, at }));
      rb.status.fingerprints.current = pending.fingerprint;
      storeRestarted = true;
      restartedAt = Date.now();
      /**
       * Runs `wait` (one restart window each time) until it succeeds; past a window the run
       * PAUSES for on-call: resume waits another window, rollback (or no answer within
       * pauseTimeout) ends the run through its undo.
       */
      const untilBack = async (what: string, wait: (timeoutMs: number) => Promise<string>): Promise<void> => {
        for (let window = 1; ; window++) {
          try {
            await rb.step(`${what} (window ${window}, ${formatDuration(restartTimeoutMs)})`, () =>
              wait(restartTimeoutMs),
            );
            return;
          } catch (err) {
            if (errorType(err) !== FAILURE.restartWindowExceeded) throw err;
            decision = undefined;
            rb.setPhase(
              'paused',
              `${errorMessage(err)}. Automatic rollback in ${formatDuration(pauseTimeoutMs)} unless answered`,
              [UPDATE.resume, UPDATE.rollback],
            );
            const rollbackAt = new Date(Date.now() + pauseTimeoutMs).toISOString();
            rb.announcer.send(
              [
                {
                  target: { secretOf: 'root' },
                  type: 'Warning',
                  reason: 'RootRotationPaused',
                  message: `${errorMessage(err)} (window ${window}); new root ${pending.fingerprint} patched, previous ${root.fingerprint} kept in ${rootSecret}-pending; automatic rollback at ${rollbackAt} unless resumed or rolled back (${info.workflowId})`,
                },
              ],
              {
                kind: 'paused',
                title: 'RotateRoot PAUSED: the store is not back with the new root',
                text: `${errorMessage(err)} (window ${window}). resume waits another ${formatDuration(restartTimeoutMs)}; rollback restores the previous root ${root.fingerprint} and restarts the store.`,
                deadline: { at: rollbackAt, what: 'automatic rollback to the previous root' },
                commands: [
                  `rotator resume ${info.workflowId} --by <you> --reason <why>`,
                  `rotator rollback ${info.workflowId} --by <you> --reason <why>`,
                ],
              },
            );
            const answered = await condition(() => decision !== undefined, pauseTimeoutMs, {
              summary: WAIT.pause,
            });
            const d = decision as { kind: 'resume' | 'rollback'; arg: UpdateArg } | undefined;
            const who = d?.arg.by ? ` by ${d.arg.by}` : '';
            if (answered && d?.kind === 'resume') {
              rb.status.steps.push({
                name: `resumed${who}`,
                state: 'done',
                startedAt: new Date().toISOString(),
                endedAt: new Date().toISOString(),
              });
              rb.setPhase('running');
              continue;
            }
            rolledBackOnRequest = answered
              ? `rollback requested${who}${d?.arg.reason ? `: ${d.arg.reason}` : ''}`
              : `no answer within pauseTimeout ${formatDuration(pauseTimeoutMs)}: automatic rollback`;
            throw ApplicationFailure.nonRetryable(rolledBackOnRequest, FAILURE.rolledBack);
          }
        }
      };
      if (rolling) {
        // One pod at a time, each checked through its own node before the next (root-restart.ts).
        for (const pod of rollOrder(workload.name, topology.replicas)) {
          podsRestarted.push(pod);
          const [replaced] = await rb.step(
            `restart store pod ${pod}`,
            () => acts.restartStorePods([pod]),
            (r) => r.map((p) => `${p.pod} (was ${p.uid || 'not running'})`).join(', '),
          );
          await untilBack(`wait for store pod ${pod} with the new root`, (timeoutMs) =>
            waits.waitForStoreNode({
              pod,
              replacedUid: replaced!.uid,
              expectFingerprint: pending.fingerprint,
              timeoutMs,
            }),
          );
        }
      } else if (podsAtOnce) {
        await rb.step(`restart every pod of ${workloadName} at once`, () => acts.restartStorePods());
      } else {
        await rb.step(`restart ${workloadName}`, () => acts.restartWorkloads([workload], at));
      }
      // Rolling: every node on the new root, asked one by one, and the workload's rollout done.
      await untilBack(
        rolling ? 'check every store node on the new root' : 'wait for the store with the new root',
        (timeoutMs) => waits.waitForStoreWithRoot({ timeoutMs, expectFingerprint: pending.fingerprint }),
      );
      storeBackAt = Date.now();
      rb.announcer.send([
        {
          target: { secretOf: 'root' },
          type: 'Normal',
          reason: 'Rotated',
          message: `now holds the new root ${pending.fingerprint} (access key ${root.accessKey}), replacing ${root.fingerprint}; the store accepted it (${info.workflowId})`,
        },
        {
          target: workload,
          type: 'Normal',
          reason: 'ConsumersRestarted',
          message: `restarted to load the new root ${pending.fingerprint} from Secret ${rootSecret}; back and accepting it (${info.workflowId})`,
        },
      ]);
      rb.commit(
        'the new root is live and the previous one no longer works: every zone is still re-ensured and smoked and the pending root record cleaned up; the new root stays',
      );
    } catch (err) {
      await rb.compensate(err);
      throw rb.failure(
        err,
        rolledBackOnRequest && !rb.status.compensationErrors.length
          ? FAILURE.rolledBack
          : FAILURE.rotationFailed,
      );
    }

    // The new root is live; from here failures are reported, not undone: the old root is gone.
    const rebuildIam = !identity.iamSurvivesRootChange && patches.has(IAM_REBUILD);
    if (rebuildIam) {
      await rb.step(
        're-create every zone policy (IAM lost on the root change: policies first)',
        () => acts.ensureZonePolicies(),
        (names) => names.join(', '),
      );
    }
    const reEnsure = (z: (typeof inventory.zones)[number]) =>
      rb.step(
        `re-ensure zone ${z.name} from its Secret`,
        () => acts.ensureZoneIdentity(z.name, 'current'),
        (r) => r.credential,
      );
    const smokeOne = (z: (typeof inventory.zones)[number]) =>
      rb.step(`smoke zone ${z.name}`, () => smoke.smokeZone(z.name, 'current'), smokeResult);
    const concurrent = patches.has(ZONES_CONCURRENTLY);
    if (concurrent) await everyZone(inventory.zones, reEnsure, 're-ensured');
    else for (const z of inventory.zones) await reEnsure(z);
    // Until its zone is re-created, a store that lost IAM refuses that zone's keys.
    const zoneKeysRefusedMs = rebuildIam ? Date.now() - storeBackAt : undefined;
    if (concurrent) await everyZone(inventory.zones, smokeOne, 'smoked');
    else for (const z of inventory.zones) await smokeOne(z);
    await rb.step('clean up the pending root Secret', () => acts.deleteRootPending());
    rb.setPhase('completed');
    rb.status.step = null;
    return {
      workflow: 'RotateRoot',
      outcome: 'completed',
      zones: inventory.zones.map((z) => ({
        zone: z.name,
        strategy: z.strategy,
        restarted: [],
        smoke: 'passed',
      })),
      root: {
        store: {
          kind: identity.kind,
          version: identity.version,
          iamSurvivesRootChange: identity.iamSurvivesRootChange,
        },
        previousFingerprint: root.fingerprint,
        newFingerprint: rb.status.fingerprints.pending,
        ...(strategies && { strategy: restart.strategy }),
        // Rolling: no store-wide downtime is planned; the time is the whole roll's.
        ...(rolling ? { rollMs: storeBackAt - restartedAt } : { storeDowntimeMs: storeBackAt - restartedAt }),
        ...(zoneKeysRefusedMs !== undefined && { zoneKeysRefusedMs }),
      },
      summary:
        `root rotated: ${root.fingerprint} → ${rb.status.fingerprints.pending}; ${inventory.zones.length} zone(s) verified` +
        (zoneKeysRefusedMs !== undefined
          ? `; ${identity.kind} lost IAM on the root change: zones re-created from their Secrets, zone keys refused for ${(zoneKeysRefusedMs / 1000).toFixed(1)} s`
          : ''),
    };
  });
}
