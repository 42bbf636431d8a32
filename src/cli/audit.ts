// `rotator audit`: the audit of src/audit/report.ts, printed. Exit 6 when there is drift or a
// violation, so it can run as a periodic check.
import { type Command } from 'commander';
import { runState } from '../activities/temporal';
import { runAudit, type AuditReport, type Finding } from '../audit/report';
import { insecureAdminProblem } from '../inventory';
import { createPrefectClient, prefectCredentialsFromEnv } from '../prefect/client';
import {
  connectionOptionsSchema,
  kubeFor,
  requireInventory,
  resolveConnection,
  withClient,
  withConnection,
} from './connection';
import { byNamespace, renderByNamespace } from './audit-by-namespace';
import { CliError, emit, EXIT, table } from './output';

export type { AuditReport } from '../audit/report';

/**
 * The exit code of `rotator audit`: EXIT.findings for drift or a violation. A warning names a
 * hazard, not a broken state (a service account whose parent is the root): listed, exit 0.
 */
export function auditExitCode(findings: readonly Pick<Finding, 'severity'>[]): number {
  return findings.some((f) => f.severity !== 'warning') ? EXIT.findings : 0;
}

export function renderAudit(r: AuditReport): string {
  const lines = [
    `audit of ${r.store.kind} at ${r.store.endpoint}`,
    '',
    'store users → policies → buckets/actions',
  ];
  for (const u of r.users) {
    lines.push(
      `  ${u.user} [${u.status}]${u.zone ? ` zone ${u.zone}` : ' (no zone)'} policies: ${u.policies.join(', ') || '-'}`,
    );
    for (const a of u.access) lines.push(`      ${a.bucket}: ${a.actions.join(' ')}`);
    for (const sa of u.serviceAccounts)
      lines.push(
        `      service account ${sa.accessKey}${sa.heldBy ? ` ← ${sa.heldBy}` : ' ← held by nothing'}`,
      );
  }
  lines.push('', 'Secrets → workloads that mount them');
  lines.push(
    table([
      ['zone', 'secret', 'key', 'authenticates', 'workloads'],
      ...r.secrets.map((s) => [
        s.zone,
        s.secret,
        s.exists ? `${s.accessKey} ${s.fingerprint}` : '(missing)',
        s.authenticates === undefined ? '-' : s.authenticates ? 'yes' : 'NO',
        s.workloads.join('; ') || '-',
      ]),
    ]),
  );
  lines.push(`  root ${r.root.secret}: ${r.root.workloads.join(', ') || '-'}`);
  if (r.root.serviceAccounts)
    lines.push(`  service accounts of root: ${r.root.serviceAccounts.join(', ') || 'none'}`);
  for (const p of r.workPools)
    lines.push(
      `  work pool ${p.pool} (${p.api}) zone ${p.zone}: ${p.error ? `unreadable: ${p.error}` : p.problems!.length ? `${p.problems!.length} problem(s)` : 'injects the zone Secret by secretKeyRef'}`,
    );
  lines.push('', `who can reach the store port${r.network.port ? ` ${r.network.port}` : ''}`);
  lines.push(`  ${r.network.note}`);
  if (r.network.checked) {
    lines.push(`  policies selecting the store: ${r.network.storePolicies.join(', ') || 'none'}`);
    const shown = r.network.pods.filter((p) => p.reaches || p.role !== 'none');
    lines.push(
      table([
        ['workload', 'role', 'reaches', 'why'],
        ...shown.map((p) => [p.workload, p.role, p.reaches ? 'yes' : 'no', p.via.join('; ')]),
      ]),
    );
    const refused = r.network.pods.length - shown.length;
    if (refused) lines.push(`  (${refused} other workload(s) refused)`);
  }
  lines.push('', r.findings.length ? `findings (${r.findings.length}):` : 'findings: none');
  for (const f of r.findings) lines.push(`  ${f.severity.toUpperCase()}: ${f.message}`);
  return lines.join('\n');
}

export function registerAudit(program: Command): void {
  withConnection(
    program
      .command('audit')
      .description(
        'who reads what: users → policies → buckets; Secrets → workloads; drift and root-Secret violations (exit 6 on findings)',
      )
      .option(
        '--store-endpoint <url>',
        "admin endpoint to use instead of the inventory's (env ROTATOR_STORE_ADMIN_ENDPOINT)",
      )
      .option(
        '--by-namespace',
        'instead: per namespace, each workload and work-pool template and the Secrets it references (needs only the cluster and Prefect; exit 0)',
      )
      .option(
        '--kube-namespace <name>',
        "with --by-namespace: this Kubernetes namespace instead of the inventory's (repeatable)",
        (v: string, all: string[]) => [...all, v],
        [] as string[],
      ),
    { kube: true },
  ).action(async (raw: Record<string, unknown>) => {
    const opts = connectionOptionsSchema.parse(raw);
    const conn = resolveConnection(opts);
    const namespaces = raw.kubeNamespace as string[];
    if (namespaces.length && !raw.byNamespace)
      throw new CliError('--kube-namespace goes with --by-namespace');
    const inventory = await requireInventory(conn);
    const kube = kubeFor(conn);
    const prefect = createPrefectClient(
      prefectCredentialsFromEnv(
        process.env,
        conn.sandbox?.prefect && {
          api: conn.sandbox.prefect.api,
          auth: { authString: conn.sandbox.prefect.authString },
        },
      ),
    );
    if (raw.byNamespace) {
      emit(opts, await byNamespace(inventory, kube, prefect, namespaces), renderByNamespace);
      return;
    }
    const endpoint =
      (raw.storeEndpoint as string | undefined) ??
      process.env.ROTATOR_STORE_ADMIN_ENDPOINT ??
      inventory.store.adminEndpoint;
    // An override is held to the inventory's rule: no plain http:// to another host unless
    // store.allowInsecureAdmin says so.
    const insecure = insecureAdminProblem(endpoint, inventory.store.allowInsecureAdmin ?? false);
    if (insecure) throw new CliError(`store admin endpoint: ${insecure}`);
    const report = await withClient(conn, (client) =>
      runAudit(inventory, kube, endpoint, (ref) => runState(client, ref), prefect),
    );
    emit(opts, report, renderAudit);
    process.exitCode = auditExitCode(report.findings);
  });
}
