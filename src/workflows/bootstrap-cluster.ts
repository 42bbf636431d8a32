import { executeChild, workflowInfo } from '@temporalio/workflow';
import { waits } from './activities';
import { strictInput, zoneRunbookCalls } from './patches';
import { Runbook } from './runbook';
import { RotateZone } from './rotate-zone';
import { type BootstrapInput, type Plan, type WorkflowResult, type ZoneResult, workflowIds } from './types';

/** Zones handled at once by default: keeps the apiserver and the store responsive on small clusters. */
const ZONE_PARALLELISM = 8;
const ROLLOUT_TIMEOUT_MS = 10 * 60_000;

async function forEachBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/**
 * Brings the store and the cluster to what the inventory says (DESIGN §3): buckets,
 * canned policies, each zone's user and credential, its Secret, consumers restarted
 * where the Secret changed, and every zone smoked. Safe to re-run: an existing
 * credential is re-ensured in the store, never replaced; `rotate: true` then rotates
 * every zone through RotateZone children.
 */
export async function BootstrapCluster(raw: BootstrapInput = {}): Promise<WorkflowResult> {
  const input = strictInput('BootstrapCluster', raw);
  const parallelism = input.parallelism ?? ZONE_PARALLELISM;
  const { v2, acts, smoke } = zoneRunbookCalls();
  const rb = new Runbook('BootstrapCluster');
  return rb.run(async () => {
    const info = workflowInfo();
    const inventory = await rb.step('load inventory', () => acts.inventorySnapshot());
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
      const actions: Plan['actions'] = [
        { action: 'create', target: `buckets ${inventory.buckets.join(', ')}`, detail: 'when missing' },
      ];
      for (const name of zones) {
        const [secret, identity, consumers] = await Promise.all([
          acts.describeZoneSecret(name),
          acts.describeZoneIdentity(name),
          acts.zoneConsumers(name),
        ]);
        const zone = inventory.zones.find((z) => z.name === name)!;
        actions.push({
          action: identity.userExists ? 'verify' : 'create',
          target: `user ${zone.user} + policy rotator-${name}`,
          detail: identity.userExists ? 'exists; policy re-applied' : 'missing',
        });
        if (!secret.exists) {
          actions.push({
            action: 'create',
            target: `Secret ${zone.secret.namespace}/${zone.secret.name}`,
            detail: 'new credential',
          });
          for (const c of consumers)
            actions.push({
              action: 'restart',
              target: `${c.kind}/${c.namespace}/${c.name}`,
              detail: 'its Secret is new',
            });
        } else {
          actions.push({
            action: 'verify',
            target: `Secret ${zone.secret.namespace}/${zone.secret.name}`,
            detail: `${secret.accessKey} ${secret.fingerprint} re-ensured in the store${secret.endpointMatches ? '' : '; endpoint corrected'}`,
          });
          if (!secret.endpointMatches)
            for (const c of consumers)
              actions.push({
                action: 'restart',
                target: `${c.kind}/${c.namespace}/${c.name}`,
                detail: 'endpoint changed',
              });
        }
        if (input.rotate)
          actions.push({ action: 'patch', target: `zone ${name}`, detail: `RotateZone (${zone.strategy})` });
      }
      rb.setPhase('completed');
      return {
        workflow: 'BootstrapCluster',
        outcome: 'planned',
        zones: [],
        summary: 'bootstrap plan',
        plan: {
          workflow: 'BootstrapCluster',
          actions,
          expectedDowntime: 'none for existing consumers (new Secrets only reach restarted pods)',
          notes: [],
        },
      };
    }

    await rb.step(
      'ensure buckets',
      () => acts.ensureBuckets(),
      (b) => b.join(', '),
    );
    const at = new Date().toISOString();
    const results = await forEachBounded(zones, parallelism, async (name): Promise<ZoneResult> => {
      const secret = await rb.step(
        `ensure Secret of zone ${name}`,
        () => acts.ensureZoneSecret(name, { workflowId: info.workflowId, at }),
        (s) =>
          s.created
            ? `created ${s.fingerprint}`
            : `kept ${s.fingerprint}${s.endpointFixed ? ', endpoint corrected' : ''}`,
      );
      const zone = inventory.zones.find((z) => z.name === name)!;
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
        () => acts.ensureZoneIdentity(name, 'current'),
        (r) => r.credential,
      );
      let restarted: string[] = [];
      if (secret.created || secret.endpointFixed) {
        const consumers = await rb.step(`discover consumers of zone ${name}`, () => acts.zoneConsumers(name));
        // Nothing to roll: no round trip through the server for it.
        if (!v2 || consumers.length) {
          restarted = await rb.step(`restart consumers of zone ${name}`, () =>
            acts.restartWorkloads(consumers, at),
          );
          await rb.step(`wait for rollouts of zone ${name}`, () =>
            waits.waitForRollouts(consumers, ROLLOUT_TIMEOUT_MS),
          );
        }
      }
      await rb.step(
        `smoke zone ${name}`,
        () => smoke.smokeZone(name, 'current'),
        (r) => `${r.passed}/${r.cells} cells`,
      );
      return {
        zone: name,
        strategy: zone.strategy,
        newFingerprint: secret.fingerprint,
        restarted,
        smoke: 'passed',
      };
    });

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
      summary: `bootstrap: ${zones.length} zone(s) ensured and smoked${input.rotate ? `, ${rotated.length} rotated` : ''} (${created.length} checked)`,
    };
  });
}
