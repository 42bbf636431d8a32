// `rotator rbac`: the worker's Roles, RoleBindings, ServiceAccount and admission policies,
// rendered from the inventory alone (no cluster), so deploy/rbac/ grants exactly what the
// inventory asks for and CI can tell when it no longer does.
import fs from 'node:fs';
import path from 'node:path';
import { type Command } from 'commander';
import { DEFAULT_WORKER_ACCOUNT, RBAC_FILES, type ServiceAccountRef } from '../rbac/names';
import { renderRbac } from '../rbac/render';
import { connectionOptionsSchema, requireInventory, resolveConnection } from './connection';
import { CliError, emit, EXIT } from './output';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function parseServiceAccount(text: string): ServiceAccountRef {
  const [namespace, name, ...rest] = text.split('/');
  if (!namespace || !name || rest.length || !DNS_LABEL.test(namespace) || !DNS_LABEL.test(name))
    throw new CliError(
      `--service-account expects <namespace>/<name> (DNS labels), e.g. rustfs-rotator/rustfs-rotator; got "${text}"`,
      EXIT.usage,
    );
  return { namespace, name };
}

/** The .yaml/.yml/.json files of `dir` that `kubectl apply -f dir` would apply. */
function manifestFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort();
}

export function registerRbac(program: Command): void {
  program
    .command('rbac')
    .description(
      "render the worker's RBAC (Secrets and workloads by name) and the admission policies that narrow it, from the inventory",
    )
    .option('--config <inventory.yaml>', 'inventory file (env ROTATOR_CONFIG)')
    .option('--sandbox <state.json>', 'take the inventory from a local sandbox (env ROTATOR_SANDBOX_STATE)')
    .option(
      '--service-account <namespace/name>',
      "the worker's ServiceAccount",
      `${DEFAULT_WORKER_ACCOUNT.namespace}/${DEFAULT_WORKER_ACCOUNT.name}`,
    )
    .option('--write <dir>', `write ${RBAC_FILES.join(', ')} into this directory instead of printing them`)
    .option(
      '--check <dir>',
      'exit 6 naming each file of this directory that differs from what the inventory renders (for CI)',
    )
    .option('--json', 'print the objects of each file as one JSON document')
    .action(async (raw: Record<string, unknown>) => {
      const opts = connectionOptionsSchema.parse(raw);
      const worker = parseServiceAccount(raw.serviceAccount as string);
      const write = raw.write as string | undefined;
      const check = raw.check as string | undefined;
      if (write && check) throw new CliError('--write and --check exclude each other', EXIT.usage);
      const conn = resolveConnection(opts);
      const inventory = await requireInventory(conn);
      const rendered = renderRbac(inventory, worker);
      const source = path.relative(process.cwd(), conn.configFile!) || conn.configFile!;
      const texts = rendered.yaml(source);
      const warn = () => {
        if (!opts.json) for (const w of rendered.warnings) process.stderr.write(`rotator: warning: ${w}\n`);
      };

      if (check) {
        const rerender = `rotator rbac --config ${source} --write ${check}`;
        const stale = RBAC_FILES.filter((f) => {
          const file = path.join(check, f);
          return !fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== texts[f];
        }).map((f) => path.join(check, f));
        const unexpected = manifestFiles(check)
          .filter((f) => !(RBAC_FILES as readonly string[]).includes(f))
          .map((f) => path.join(check, f));
        const upToDate = !stale.length && !unexpected.length;
        emit(opts, { dir: check, upToDate, stale, unexpected, warnings: rendered.warnings }, (v) =>
          [
            ...v.stale.map((f) => `${f} is out of date: re-render it with ${rerender}`),
            ...v.unexpected.map(
              (f) => `${f} is not rendered by rotator rbac: \`kubectl apply -f ${check}\` would apply it too`,
            ),
            ...(v.upToDate ? [`${check} is up to date`] : []),
          ].join('\n'),
        );
        warn();
        if (!upToDate) process.exitCode = EXIT.findings;
        return;
      }
      if (write) {
        fs.mkdirSync(write, { recursive: true });
        for (const f of RBAC_FILES) fs.writeFileSync(path.join(write, f), texts[f]);
        emit(
          opts,
          {
            dir: write,
            files: RBAC_FILES.map((f) => path.join(write, f)),
            namespaces: rendered.grants.map((g) => g.namespace),
            warnings: rendered.warnings,
          },
          (v) => `wrote ${v.files.join(', ')} (Roles in ${v.namespaces.join(', ')})`,
        );
        warn();
        return;
      }
      if (opts.json) emit(opts, { files: rendered.files, warnings: rendered.warnings }, () => '');
      else process.stdout.write(RBAC_FILES.map((f) => texts[f]).join(''));
      warn();
    });
}
