import { findZone, ZONE_CLIENT_LABEL } from '../inventory';
import {
  describeProblems,
  injectPodLabel,
  injectZoneSecret,
  inspectTemplate,
  podLabelProblem,
} from '../prefect/template';
import { type ActivityDeps } from './deps';

export interface PoolInjection {
  api: string;
  pool: string;
  /** installed: entries were added now; kept: the template already held them all. */
  outcome: 'installed' | 'kept';
  added: string[];
}

export function createPrefectActivities(deps: ActivityDeps) {
  const { inventory, prefect } = deps;

  return {
    /**
     * Makes each work pool of the zone inject the zone Secret by secretKeyRef: read, add what
     * is missing, write back, read again. The read-back catches a change made by someone else
     * between the read and the write (Prefect has no conditional update), which the retry of
     * this activity then sees — and refuses when it conflicts.
     */
    async ensureWorkPools(zoneName: string): Promise<PoolInjection[]> {
      const zone = findZone(inventory, zoneName);
      const results: PoolInjection[] = [];
      for (const { api, pool } of zone.workPools) {
        const current = await prefect.readPool(api, pool);
        const injected = injectZoneSecret(pool, current.base_job_template, zone.secret.name);
        let { template } = injected;
        const added = [...injected.added];
        // With NetworkPolicies, flow-run pods must carry the zone's client label to reach the store.
        if (inventory.networkPolicies) {
          const labelled = injectPodLabel(pool, template, ZONE_CLIENT_LABEL, zone.name);
          template = labelled.template;
          if (labelled.added) added.push(`pod label ${ZONE_CLIENT_LABEL}`);
        }
        if (added.length) {
          await prefect.writeTemplate(api, pool, template);
          const back = await prefect.readPool(api, pool);
          const problems = describeProblems(
            inspectTemplate(pool, back.base_job_template, zone.secret.name),
            zone.secret.name,
          );
          const label =
            inventory.networkPolicies &&
            podLabelProblem(pool, back.base_job_template, ZONE_CLIENT_LABEL, zone.name);
          if (label) problems.push(label);
          if (problems.length)
            throw new Error(
              `work pool "${pool}" at ${api} changed while it was patched: ${problems.join('; ')}`,
            );
        }
        results.push({ api, pool, outcome: added.length ? 'installed' : 'kept', added });
      }
      return results;
    },
  };
}
