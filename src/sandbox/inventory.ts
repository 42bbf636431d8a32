import fs from 'node:fs';
import path from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { PACKAGE_ROOT } from '../package-root';
import { type StoreKind } from './store-process';

export const DASHI_INVENTORY = path.join(PACKAGE_ROOT, 'config', 'dashi.yaml');

/**
 * The sandbox runs its demo and tests unattended: decisions (approve, resume, rollback,
 * revoke-now) come from any Temporal client, and `approve: true` is allowed. A real inventory
 * keeps the default (Kubernetes authorizes each decision; docs/configuring.md "approvals");
 * test/e2e/approvals.test.ts runs a worker with that default on this stack.
 */
export const SANDBOX_APPROVALS = { authority: 'any-temporal-client', allowInputApproval: true } as const;

/**
 * The seed's inventory pointed at the sandbox: same zones, Secrets and consumers, with
 * the store section naming the local store process and work pools the sandbox's Prefect. Comments are kept, so the file reads
 * like the original.
 */
export function sandboxInventory(
  sandbox: {
    store: { kind: StoreKind; endpoint: string; nodes?: { pod: string; endpoint: string }[] };
    prefect: { api: string };
  },
  overrides: {
    grace?: string;
    restartTimeout?: string;
    pauseTimeout?: string;
    /** The inventory's notification sinks, as written in YAML. */
    notifications?: object[];
    /** Another StatefulSet of the store's namespace as the store workload. */
    storeWorkload?: string;
    /** The inventory's approvals section (YAML shape); default SANDBOX_APPROVALS. */
    approvals?: object;
  } = {},
  source = DASHI_INVENTORY,
): string {
  const { store } = sandbox;
  const doc = parseDocument(fs.readFileSync(source, 'utf8'));
  // Work pools live in the sandbox's Prefect server.
  const zones = doc.get('zones');
  if (isSeq(zones))
    for (const zone of zones.items)
      if (isMap(zone)) {
        const pools = zone.get('workPools');
        // The sandbox's Prefect is on loopback: plain http:// needs no exception there.
        if (isSeq(pools))
          for (const p of pools.items)
            if (isMap(p)) {
              p.set('api', sandbox.prefect.api);
              p.delete('allowInsecureApi');
            }
      }
  doc.setIn(['store', 'kind'], store.kind);
  doc.setIn(['store', 'endpoint'], store.endpoint);
  doc.setIn(['store', 'adminApi'], store.kind === 'minio' ? 'madmin' : 'rustfs');
  // A distributed store's pods are loopback ports, not DNS names: each pod's URL, by name.
  if (store.nodes && store.nodes.length > 1)
    doc.setIn(
      ['store', 'nodeEndpoints'],
      doc.createNode(Object.fromEntries(store.nodes.map((n) => [n.pod, n.endpoint]))),
    );
  if (overrides.grace) doc.setIn(['defaults', 'grace'], overrides.grace);
  if (overrides.restartTimeout) doc.setIn(['store', 'restartTimeout'], overrides.restartTimeout);
  if (overrides.pauseTimeout) doc.setIn(['store', 'pauseTimeout'], overrides.pauseTimeout);
  if (overrides.notifications) doc.set('notifications', doc.createNode(overrides.notifications));
  if (overrides.storeWorkload) doc.setIn(['store', 'workload', 'name'], overrides.storeWorkload);
  doc.set('approvals', doc.createNode(overrides.approvals ?? SANDBOX_APPROVALS));
  return doc.toString();
}
