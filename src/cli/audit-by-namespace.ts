// `rotator audit --by-namespace`: the runbook's per-namespace view of who reads which Secret.
import { inventoryNamespaces, secretUseByNamespace, type NamespaceUse } from '../audit/by-namespace';
import { type Inventory } from '../inventory';
import { KubeNotFoundError, toKubeError, type Kube } from '../kube';
import { type PrefectClient } from '../prefect/client';
import { CliError, table } from './output';

/** The view for `namespaces` (default: the inventory's); a namespace that does not exist is bad input. */
export async function byNamespace(
  inventory: Inventory,
  kube: Kube,
  prefect: PrefectClient,
  namespaces: string[],
): Promise<NamespaceUse[]> {
  for (const name of namespaces) {
    try {
      await kube.core.readNamespace({ name });
    } catch (err) {
      const e = toKubeError(err, { verb: 'get', resource: 'namespaces', name });
      if (e instanceof KubeNotFoundError)
        throw new CliError(
          `namespace ${name} does not exist (without --kube-namespace the view covers the inventory's: ${inventoryNamespaces(inventory).join(', ')})`,
        );
      throw e;
    }
  }
  return secretUseByNamespace(inventory, kube, prefect, namespaces.length ? namespaces : undefined);
}

export function renderByNamespace(view: NamespaceUse[]): string {
  const lines: string[] = [];
  for (const { namespace, workloads } of view) {
    lines.push(`=== ${namespace} ===`);
    if (!workloads.length) {
      lines.push('  (no workloads)');
      continue;
    }
    const rows = [['workload', 'secret', 'managed as', 'via']];
    for (const w of workloads) {
      if (w.error) rows.push([w.workload, '(unreadable)', '-', w.error]);
      else if (!w.secrets.length) rows.push([w.workload, '-', '-', '-']);
      for (const s of w.secrets) rows.push([w.workload, s.secret, s.managed ?? '-', s.via.join(', ')]);
      for (const name of w.literals ?? [])
        rows.push([w.workload, '(literal value)', '-', `${name} holds a literal key: it never rotates`]);
    }
    lines.push(table(rows));
  }
  return lines.join('\n');
}
