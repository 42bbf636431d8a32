// `rotator netpol`: the NetworkPolicies the inventory asks for, rendered from the file alone
// (no cluster), so they can be reviewed and committed beside it; BootstrapCluster applies the
// same objects when the inventory says `networkPolicies.apply: true`.
import fs from 'node:fs';
import path from 'node:path';
import { type Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { networkPoliciesYaml, renderNetworkPolicies } from '../netpol/render';
import { connectionOptionsSchema, requireInventory, resolveConnection } from './connection';
import { CliError, emit, EXIT } from './output';

export function registerNetpol(program: Command): void {
  program
    .command('netpol')
    .description(
      'render the NetworkPolicies that let only zone clients, the store and the worker reach the store port',
    )
    .option('--config <inventory.yaml>', 'inventory file (env ROTATOR_CONFIG)')
    .option('--sandbox <state.json>', 'take the inventory from a local sandbox (env ROTATOR_SANDBOX_STATE)')
    .option('--write <file>', 'write the YAML to this file instead of printing it')
    .option('--check <file>', 'exit 6 when this file differs from what the inventory renders (for CI)')
    .option('--json', 'print the policies as one JSON document')
    .action(async (raw: Record<string, unknown>) => {
      const opts = connectionOptionsSchema.parse(raw);
      const conn = resolveConnection(opts);
      const inventory = await requireInventory(conn);
      const policies = renderNetworkPolicies(inventory);
      if (!policies.length)
        throw new CliError(
          `${conn.configFile} has no networkPolicies section: add one (docs/configuring.md "NetworkPolicies") to say which pods may reach the store`,
          EXIT.usage,
        );
      const yaml = networkPoliciesYaml(
        policies,
        path.relative(process.cwd(), conn.configFile!) || conn.configFile!,
      );
      const write = raw.write as string | undefined;
      const check = raw.check as string | undefined;
      if (check) {
        const current = fs.existsSync(check) ? fs.readFileSync(check, 'utf8') : undefined;
        const upToDate = current === yaml;
        emit(opts, { file: check, upToDate }, () =>
          upToDate
            ? `${check} is up to date`
            : `${check} is out of date: re-render it with rotator netpol --config ${conn.configFile} --write ${check}`,
        );
        if (!upToDate) process.exitCode = EXIT.findings;
        return;
      }
      if (write) {
        fs.mkdirSync(path.dirname(write), { recursive: true });
        fs.writeFileSync(write, yaml);
        emit(
          opts,
          { file: write, policies: policies.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`) },
          (v) => `wrote ${v.policies.join(', ')} to ${v.file}`,
        );
        return;
      }
      // The YAML is the wire form (`from`, not the client's `_from`): JSON is read from it.
      if (opts.json)
        emit(
          opts,
          parseAllDocuments(yaml).map((d) => d.toJS() as unknown),
          () => '',
        );
      else process.stdout.write(yaml);
    });
}
