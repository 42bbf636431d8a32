import {
  ApplicationFailure,
  CancellationScope,
  executeChild,
  ParentClosePolicy,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities';
import { acts as scheduledActs, smoke as scheduledSmoke, waits } from './activities';
import { BOOTSTRAP_HOLDS, NETWORK_POLICIES, PatchSet, PREFECT_POOLS, RUN_LOCKS } from './patches';
import { strictInput, zoneRunbookCalls } from './run-start';
import { errorMessage, errorType } from './errors';
import { Runbook } from './runbook';
import { FAILURE } from './names';
import { smokeResult } from './summaries';
import { RotateZone } from './rotate-zone';
import { bootstrapPlan, type ZoneFacts } from './plans';
import { type BootstrapInput } from './inputs';
import { type WorkflowResult, type ZoneResult, workflowIds } from './types';

/** Zones handled at once by default: keeps the apiserver and the store responsive on small clusters. */
const ZONE_PARALLELISM = 8;

async function forEachBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    // After a cancel no new item starts.
    while (next < items.length && !CancellationScope.current().consideredCancelled) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

type Holder = NonNullable<ZoneResult['heldBy']>;

/** The run a refusal names: from the ConflictingRotation failure's details, anywhere in its causes. */
function holderOf(err: unknown): Holder | undefined {
  for (let e = err as { cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e instanceof ApplicationFailure && e.type === FAILURE.conflictingRotation && e.details?.length)
      return e.details[0] as Holder;
  }
  return undefined;
}

const runName = (h: Holder) =>
  `${h.workflowType ?? 'run'} ${h.workflowId}${h.runId ? ` (run ${h.runId})` : ''}` +
  (h.namespace ? ` in Temporal namespace ${h.namespace}` : '');

/** A zone left to the run that holds it (or the root). */
const skippedZone = (zone: string, strategy: ZoneResult['strategy'], holder: Holder): ZoneResult => {
  const heldBy: Holder = {
    workflowId: holder.workflowId,
    runId: holder.runId,
    workflowType: holder.workflowType,
    ...(holder.namespace && { namespace: holder.namespace }),
  };
  return {
    zone,
    strategy,
    restarted: [],
    smoke: 'not run',
    outcome: 'skipped',
    heldBy,
    error: `held by ${runName(heldBy)}`,
  };
};

/**
 * One zone's RotateZone child, settled: rotated, skipped because another run holds the
 * zone, or failed with its cause. Never throws, so one zone cannot end its siblings.
 *
 * ABANDON: if this parent is terminated or times out, a child mid-rotation finishes (or
 * undoes) its own rotation. TERMINATE, the default, killed children between their steps
 * and left pending records and two valid keys behind; REQUEST_CANCEL would depend on every
 * phase's cancel path. A child is a complete, locked run on its own, so it is left to end.
 */
async function rotateChild(
  rb: Runbook,
  acts: Pick<Activities, 'describeRun'>,
  zone: string,
  strategy: ZoneResult['strategy'],
): Promise<ZoneResult> {
  const workflowId = workflowIds.zone(zone);
  const name = `rotate zone ${zone} (child ${workflowId})`;
  try {
    const r = await rb.step(name, () =>
      executeChild(RotateZone, {
        workflowId,
        args: [{ zone }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      }),
    );
    return { ...r.zones[0]!, outcome: 'rotated' };
  } catch (err) {
    let heldBy = holderOf(err);
    if (!heldBy && err instanceof WorkflowExecutionAlreadyStartedError) {
      const run = await acts.describeRun({ workflowId, workflowType: 'RotateZone' });
      heldBy = { workflowId, runId: run.runId, workflowType: run.workflowType };
    }
    const step = [...rb.status.steps].reverse().find((s) => s.name === name);
    if (heldBy) {
      const error = `held by ${runName(heldBy)}`;
      if (step) Object.assign(step, { state: 'skipped', detail: error });
      return { zone, strategy, restarted: [], smoke: 'not run', outcome: 'skipped', heldBy, error };
    }
    return {
      zone,
      strategy,
      restarted: [],
      smoke: 'not run',
      outcome: 'failed',
      error: `${errorType(err) ?? 'failed'}: ${errorMessage(err)}`,
    };
  }
}

/** Once started, the item runs to its end, cancel or not: a zone is never left half-done. */
const toTheEnd =
  <T, R>(fn: (item: T) => Promise<R>) =>
  (item: T) =>
    CancellationScope.nonCancellable(() => fn(item));

/**
 * Brings the store and the cluster to what the inventory says (docs/design.md "BootstrapCluster"): buckets,
 * canned policies, each zone's user and credential, its Secret, consumers restarted
 * where the Secret changed, and every zone smoked. Safe to re-run: an existing
 * credential is re-ensured in the store, never replaced; `rotate: true` then rotates
 * every zone through RotateZone children.
 */
export async function BootstrapCluster(raw: BootstrapInput = {}): Promise<WorkflowResult> {
  const patches = new PatchSet();
  const input = strictInput(patches, 'BootstrapCluster', raw);
  const parallelism = input.parallelism ?? ZONE_PARALLELISM;
  const zoneCalls = zoneRunbookCalls(patches);
  const { v2 } = zoneCalls;
  const rb = new Runbook('BootstrapCluster', patches);
  const steps = rb.proxies({ ...zoneCalls, waits }, v2);
  const { acts } = steps;
  rb.cancelNote =
    'starts no new zone and lets the zones in flight finish (ensuring is idempotent: nothing to undo); RotateZone children undo their own rotation';
  return rb.run(async () => {
    const info = workflowInfo();
    const inventory = await rb.step('load inventory', () => acts.inventorySnapshot());
    rb.configureRetries(inventory.retries);
    const zones = inventory.zones.map((z) => z.name);

    await rb.step('check no conflicting rotation runs', () =>
      acts.assertNoConflictingRun({
        workflowType: 'BootstrapCluster',
        workflowId: info.workflowId,
        startTime: info.startTime.toISOString(),
      }),
    );
    await rb.step(
      'verify root',
      () => acts.verifyRoot('current'),
      (i) => `${i.kind} ${i.version ?? ''}`.trim(),
    );

    if (input.dryRun) {
      const facts: ZoneFacts[] = [];
      for (const name of zones) {
        const [secret, identity, consumers] = await Promise.all([
          acts.describeZoneSecret(name),
          acts.describeZoneIdentity(name),
          acts.zoneConsumers(name),
        ]);
        facts.push({ name, secret, identity, consumers });
      }
      rb.setPhase('completed');
      return {
        workflow: 'BootstrapCluster',
        outcome: 'planned',
        zones: [],
        summary: 'bootstrap plan',
        plan: bootstrapPlan(inventory, facts, Boolean(input.rotate)),
      };
    }

    await rb.step(
      'ensure buckets',
      () => acts.ensureBuckets(),
      (b) => b.join(', '),
    );
    const at = new Date().toISOString();
    const locks = patches.has(RUN_LOCKS);
    // Decided here, once, before the zones run concurrently (BOOTSTRAP_HOLDS): a patch marker
    // recorded between the branches' calls is part of what replay must reproduce in order.
    const holds = locks && patches.has(BOOTSTRAP_HOLDS);
    const pools = holds && inventory.zones.some((z) => z.workPools?.length) && patches.has(PREFECT_POOLS);
    // The concurrent sections' calls: regular activities from BOOTSTRAP_HOLDS on (within the
    // run's retry budgets when it has them).
    const zoneSteps = holds
      ? rb.proxies({ acts: scheduledActs, smoke: scheduledSmoke, waits }, false)
      : steps;
    const { acts: zoneActs, smoke: zoneSmoke } = zoneSteps;
    const owner = { workflowId: info.workflowId, runId: info.runId, workflowType: 'BootstrapCluster' };
    const ensureZone = async (name: string): Promise<ZoneResult> => {
      const zone = inventory.zones.find((z) => z.name === name)!;
      if (holds) {
        const hold = await rb.step(
          `hold zone ${name}`,
          () => zoneActs.holdZone(name, { owner }),
          (h) => (h.heldBy ? `held by ${runName(h.heldBy)}: skipped` : h.found),
        );
        if (hold.heldBy) return skippedZone(name, zone.strategy, hold.heldBy);
        try {
          return await ensureHeldZone(name);
        } finally {
          await rb.step(`release zone ${name}`, () => zoneActs.releaseZone(name, { owner }));
        }
      }
      if (locks) {
        // Checked, not locked: bootstrap re-ensures what the zone Secret holds and issues no
        // key, so there is nothing to record; a zone another run rotates is left to it.
        const holder = await rb.step(
          `check zone ${name} is not being rotated`,
          () => acts.zoneHolder(name),
          (h) => (h ? `held by ${runName(h)}: skipped` : 'free'),
        );
        if (holder) return skippedZone(name, zone.strategy, holder);
      }
      return ensureHeldZone(name);
    };
    const ensureHeldZone = async (name: string): Promise<ZoneResult> => {
      const zone = inventory.zones.find((z) => z.name === name)!;
      const secret = await rb.step(
        `ensure Secret of zone ${name}`,
        () => zoneActs.ensureZoneSecret(name, { workflowId: info.workflowId, at }),
        (s) =>
          s.created
            ? `created ${s.fingerprint}`
            : `kept ${s.fingerprint}${s.endpointFixed ? ', endpoint corrected' : ''}`,
      );
      // After the Secret: the template references it by name, so pods of new flow runs find it.
      // Re-run after Prefect's database was recreated, this re-installs what the new pool lacks.
      if (zone.workPools?.length && (holds ? pools : patches.has(PREFECT_POOLS))) {
        await rb.step(
          `ensure work pools of zone ${name}`,
          () => zoneActs.ensureWorkPools(name),
          (r) =>
            r
              .map(
                (p) => `${p.pool}: ${p.outcome === 'installed' ? `injected ${p.added.join(', ')}` : 'kept'}`,
              )
              .join('; '),
        );
      }
      // Its RotateZone child re-ensures the user and policy, issues a new key and smokes it:
      // doing the same here first for a zone whose Secret did not change is wasted work.
      if (v2 && input.rotate && !secret.created && !secret.endpointFixed) {
        return {
          zone: name,
          strategy: zone.strategy,
          newFingerprint: secret.fingerprint,
          restarted: [],
          smoke: 'left to RotateZone',
        };
      }
      await rb.step(
        `ensure identity of zone ${name}`,
        () => zoneActs.ensureZoneIdentity(name, 'current'),
        (r) => r.credential,
      );
      let restarted: string[] = [];
      if (secret.created || secret.endpointFixed) {
        const consumers = await rb.step(`discover consumers of zone ${name}`, () =>
          zoneActs.zoneConsumers(name),
        );
        // Nothing to roll: no round trip through the server for it.
        if (!v2 || consumers.length) {
          restarted = await rb.step(`restart consumers of zone ${name}`, () =>
            zoneActs.restartWorkloads(consumers, at),
          );
          await rb.step(`wait for rollouts of zone ${name}`, () =>
            zoneSteps.waits.waitForRollouts(consumers, rb.constants.rolloutTimeoutMs),
          );
        }
      }
      await rb.step(`smoke zone ${name}`, () => zoneSmoke.smokeZone(name, 'current'), smokeResult);
      return {
        zone: name,
        strategy: zone.strategy,
        newFingerprint: secret.fingerprint,
        restarted,
        smoke: 'passed',
      };
    };
    const results = await forEachBounded(zones, parallelism, toTheEnd(ensureZone));

    // After the zones: a refusal (a consumer the policies would cut off) leaves every zone
    // ensured, and the message names what to label.
    if (inventory.networkPolicies?.apply && patches.has(NETWORK_POLICIES)) {
      await rb.step(
        'apply NetworkPolicies',
        () => acts.applyNetworkPolicies(),
        (r) => r.map((p) => `${p.policy}: ${p.outcome}`).join('; '),
      );
    }

    if (locks && input.rotate) {
      const outcomes = await forEachBounded(results, parallelism, (r) =>
        r.outcome === 'skipped' ? Promise.resolve(r) : rotateChild(rb, zoneActs, r.zone, r.strategy),
      );
      const line = (r: ZoneResult) =>
        `${r.zone}: ${r.outcome}${r.outcome === 'rotated' ? ` ${r.previousFingerprint} → ${r.newFingerprint}` : ` (${r.error})`}`;
      const failed = outcomes.filter((r) => r.outcome === 'failed');
      const count = (o: ZoneResult['outcome']) => outcomes.filter((r) => r.outcome === o).length;
      const summary = `bootstrap: ${zones.length} zone(s) ensured; rotated ${count('rotated')}, skipped ${count('skipped')}, failed ${failed.length} — ${outcomes.map(line).join('; ')}`;
      if (failed.length) {
        // Ends failed after every child settled, so the schedule's pause-on-failure sees it;
        // the per-zone list travels in the message and, as data, in the cause's details.
        throw rb.failure(
          ApplicationFailure.create({
            message: summary,
            type: 'ZoneRotationFailed',
            nonRetryable: true,
            details: [outcomes],
          }),
          'ZoneRotationFailed',
        );
      }
      rb.setPhase('completed');
      rb.status.step = null;
      return { workflow: 'BootstrapCluster', outcome: 'completed', zones: outcomes, summary };
    }
    let rotated: WorkflowResult[] = [];
    if (input.rotate) {
      rotated = await forEachBounded(zones, parallelism, (zone) =>
        rb.step(`rotate zone ${zone} (child ${workflowIds.zone(zone)})`, () =>
          executeChild(RotateZone, { workflowId: workflowIds.zone(zone), args: [{ zone }] }),
        ),
      );
    }
    rb.setPhase('completed');
    rb.status.step = null;
    const created = results.filter((r) => r.restarted.length || r.newFingerprint);
    return {
      workflow: 'BootstrapCluster',
      outcome: 'completed',
      zones: input.rotate ? rotated.flatMap((r) => r.zones) : results,
      summary:
        `bootstrap: ${zones.length} zone(s) ensured and smoked${input.rotate ? `, ${rotated.length} rotated` : ''} (${created.length} checked)` +
        results
          .filter((r) => r.outcome === 'skipped')
          .map((r) => `; ${r.zone} skipped (${r.error})`)
          .join(''),
    };
  });
}
