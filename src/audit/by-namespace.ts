// `rotator audit --by-namespace`: the runbook's "who is bound to a K8s Secret" loop, per
// namespace — each workload and the Secrets its pod template reads, and each zone's Prefect
// work pools, whose flow-run pods read what the base job template says. Read-only.
import type { V1PodSpec } from '@kubernetes/client-node';
import { pendingName } from '../activities/credentials';
import { type Inventory } from '../inventory';
import { allSecretReferences, listPodTemplates, type Kube, type SecretRefVia } from '../kube';
import { type PrefectClient } from '../prefect/client';
import { inspectTemplate, templatePodSpec } from '../prefect/template';

/** What the inventory makes of a Secret: a zone's, the root's, or a run's pending record. */
export type ManagedAs = `zone ${string}` | 'root' | `pending record of ${string}`;

export interface SecretUse {
  secret: string;
  via: SecretRefVia[];
  managed?: ManagedAs;
}

export interface WorkloadUse {
  /** Kind/name, or WorkPool/<pool> for a Prefect work pool's base job template. */
  workload: string;
  secrets: SecretUse[];
  /** Work pools: injected variables holding a literal value (names only, never the value). */
  literals?: string[];
  /** Work pools: why the template could not be read. */
  error?: string;
}

export interface NamespaceUse {
  namespace: string;
  workloads: WorkloadUse[];
}

/** The namespaces the inventory touches: the zone Secrets', the root Secret's and the store's. */
export function inventoryNamespaces(inventory: Inventory): string[] {
  return [
    ...new Set([
      ...inventory.zones.map((z) => z.secret.namespace),
      inventory.store.rootSecret.namespace,
      inventory.store.workload.namespace,
    ]),
  ].sort();
}

function managedAs(inventory: Inventory, namespace: string, secret: string): ManagedAs | undefined {
  const root = inventory.store.rootSecret;
  for (const [ns, name, as] of [
    [root.namespace, root.name, 'root'] as const,
    ...inventory.zones.map((z) => [z.secret.namespace, z.secret.name, `zone ${z.name}`] as const),
  ]) {
    if (ns !== namespace) continue;
    if (secret === name) return as;
    if (secret === pendingName(name)) return `pending record of ${as}`;
  }
  return undefined;
}

function usesOf(inventory: Inventory, namespace: string, spec: V1PodSpec | undefined): SecretUse[] {
  const bySecret = new Map<string, SecretRefVia[]>();
  for (const r of allSecretReferences(spec))
    bySecret.set(r.secret, [...(bySecret.get(r.secret) ?? []), r.via]);
  return [...bySecret].map(([secret, via]) => ({
    secret,
    via,
    managed: managedAs(inventory, namespace, secret),
  }));
}

/**
 * Each zone's work pools, under the zone Secret's namespace: a pod reads only Secrets of its
 * own namespace, so that is where the pool's flow runs must run to get the key.
 */
async function workPoolUses(
  inventory: Inventory,
  prefect: PrefectClient,
): Promise<Map<string, WorkloadUse[]>> {
  const out = new Map<string, WorkloadUse[]>();
  for (const zone of inventory.zones) {
    const namespace = zone.secret.namespace;
    for (const { api, pool } of zone.workPools) {
      const workload = `WorkPool/${pool}`;
      let use: WorkloadUse;
      try {
        const template = (await prefect.readPool(api, pool)).base_job_template;
        const report = inspectTemplate(pool, template, zone.secret.name);
        use = {
          workload,
          secrets: usesOf(inventory, namespace, templatePodSpec(template)),
          literals: Object.entries(report.entries)
            .filter(([, s]) => s.state === 'literal')
            .map(([name]) => name),
        };
      } catch (err) {
        use = { workload, secrets: [], error: (err as Error).message };
      }
      out.set(namespace, [...(out.get(namespace) ?? []), use]);
    }
  }
  return out;
}

/** The view for the given namespaces (default: the inventory's), workloads sorted by kind and name. */
export async function secretUseByNamespace(
  inventory: Inventory,
  kube: Kube,
  prefect: PrefectClient,
  namespaces: string[] = inventoryNamespaces(inventory),
): Promise<NamespaceUse[]> {
  const pools = await workPoolUses(inventory, prefect);
  const out: NamespaceUse[] = [];
  for (const namespace of namespaces) {
    const templates = await listPodTemplates(kube, namespace);
    out.push({
      namespace,
      workloads: [
        ...templates.map((t) => ({
          workload: `${t.kind}/${t.name}`,
          secrets: usesOf(inventory, namespace, t.spec),
        })),
        ...(pools.get(namespace) ?? []),
      ],
    });
  }
  return out;
}
