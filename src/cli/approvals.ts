// `rotator approvals`: the RotationDecision CRD, the admission policy that makes a decision an
// authorization, and the ClusterRoles for the people who decide, rendered from the inventory
// alone (deploy/approvals/), so CI can tell when the committed file no longer matches it.
import fs from 'node:fs';
import path from 'node:path';
import { type Command } from 'commander';
import { APPROVALS_FILE, renderApprovals } from '../approvals/render';
import { connectionOptionsSchema, requireInventory, resolveConnection } from './connection';
import { CliError, emit, EXIT } from './output';

export function registerApprovals(program: Command): void {
  program
    .command('approvals')
    .description(
      'render the RotationDecision CRD, the admission policy that admits a decision only for an authorized, authenticated identity, and the ClusterRoles for the people who decide, from the inventory',
    )
    .option('--config <inventory.yaml>', 'inventory file (env ROTATOR_CONFIG)')
    .option('--sandbox <state.json>', 'take the inventory from a local sandbox (env ROTATOR_SANDBOX_STATE)')
    .option('--write <dir>', `write ${APPROVALS_FILE} into this directory instead of printing it`)
    .option(
      '--check <dir>',
      `exit 6 when ${APPROVALS_FILE} in this directory differs from what the inventory renders`,
    )
    .option('--json', 'print the objects as one JSON document')
    .action(async (raw: Record<string, unknown>) => {
      const opts = connectionOptionsSchema.parse(raw);
      const write = raw.write as string | undefined;
      const check = raw.check as string | undefined;
      if (write && check) throw new CliError('--write and --check exclude each other', EXIT.usage);
      const conn = resolveConnection(opts);
      const inventory = await requireInventory(conn);
      const rendered = renderApprovals(inventory);
      const source = path.relative(process.cwd(), conn.configFile!) || conn.configFile!;
      const text = rendered.yaml(source);
      if (check) {
        const file = path.join(check, APPROVALS_FILE);
        const upToDate = fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text;
        emit(opts, { file, upToDate }, (v) =>
          v.upToDate
            ? `${v.file} is up to date`
            : `${v.file} is out of date: re-render it with rotator approvals --config ${source} --write ${check}`,
        );
        if (!upToDate) process.exitCode = EXIT.findings;
        return;
      }
      if (write) {
        fs.mkdirSync(write, { recursive: true });
        const file = path.join(write, APPROVALS_FILE);
        fs.writeFileSync(file, text);
        emit(opts, { file }, (v) => `wrote ${v.file}`);
        return;
      }
      if (opts.json) emit(opts, { objects: rendered.objects }, () => '');
      else process.stdout.write(text);
    });
}
