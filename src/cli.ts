#!/usr/bin/env node
// `rotator`: commander wiring only; each command lives in its own file under src/cli/.
// Errors from any command go through the single handler (a message, an exit code, never
// a stack); the process ends by itself with process.exitCode, never process.exit().
import { Command, CommanderError } from 'commander';
import { CliError, EXIT, reportError } from './cli/output';
import type * as approvalsCommand from './cli/approvals';
import type * as auditCommand from './cli/audit';
import type * as demoCommand from './cli/demo';
import type * as historyCommand from './cli/history';
import type * as netpolCommand from './cli/netpol';
import type * as planCommand from './cli/plan';
import type * as rbacCommand from './cli/rbac';
import type * as sandboxCommand from './cli/sandbox';
import type * as scheduleCommand from './cli/schedule';
import type * as startWorkflowCommand from './cli/start-workflow';
import type * as statusCommand from './cli/status';
import type * as updatesCommand from './cli/updates';

type Register = (program: Command) => void;

/* eslint-disable @typescript-eslint/no-require-imports */
// Each command's module, and the top-level names it registers, in the order help lists them.
// Loaded on demand: a run loads only the module of the command it runs, so `rotator status`
// does not pay for the store client, Kubernetes client and worker SDK that other commands
// load (about a second per process, and tests start ~90 of them).
const COMMANDS: Array<{ names: string[]; load: () => Register }> = [
  {
    names: ['start-workflow'],
    load: () => (require('./cli/start-workflow') as typeof startWorkflowCommand).registerStartWorkflow,
  },
  {
    names: ['status'],
    load: () => (require('./cli/status') as typeof statusCommand).registerStatus,
  },
  {
    names: ['history'],
    load: () => (require('./cli/history') as typeof historyCommand).registerHistory,
  },
  {
    names: ['approve', 'resume', 'rollback', 'revoke-now'],
    load: () => (require('./cli/updates') as typeof updatesCommand).registerUpdates,
  },
  {
    names: ['schedule'],
    load: () => (require('./cli/schedule') as typeof scheduleCommand).registerSchedule,
  },
  { names: ['plan'], load: () => (require('./cli/plan') as typeof planCommand).registerPlan },
  { names: ['audit'], load: () => (require('./cli/audit') as typeof auditCommand).registerAudit },
  {
    names: ['netpol'],
    load: () => (require('./cli/netpol') as typeof netpolCommand).registerNetpol,
  },
  { names: ['rbac'], load: () => (require('./cli/rbac') as typeof rbacCommand).registerRbac },
  {
    names: ['approvals'],
    load: () => (require('./cli/approvals') as typeof approvalsCommand).registerApprovals,
  },
  { names: ['demo'], load: () => (require('./cli/demo') as typeof demoCommand).registerDemo },
  {
    names: ['sandbox'],
    load: () => (require('./cli/sandbox') as typeof sandboxCommand).registerSandbox,
  },
];
/* eslint-enable @typescript-eslint/no-require-imports */

/** The command a command line runs: its first word that is not an option. */
function commandOf(argv: string[]): string | undefined {
  return argv.slice(2).find((a) => !a.startsWith('-'));
}

/**
 * The whole program (help, the generated reference), or, given a command line whose command
 * is known, the program with that command only: the rest is never loaded.
 */
export function buildProgram(argv?: string[]): Command {
  const program = new Command()
    .name('rotator')
    .description('Bootstrap and rotate RustFS credentials in Kubernetes, orchestrated by Temporal')
    .showHelpAfterError()
    .exitOverride();
  const name = argv && commandOf(argv);
  const only = COMMANDS.find((c) => name !== undefined && c.names.includes(name));
  for (const c of only ? [only] : COMMANDS) c.load()(program);
  // Sub-commands inherit the override so usage errors reach the handler below.
  const override = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const json = argv.includes('--json');
  try {
    await buildProgram(argv).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version print and succeed; anything else is a usage error, already printed.
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version')
        return;
      if (json) reportError(new CliError(err.message.replace(/^error: /, ''), EXIT.usage), true);
      else process.exitCode = EXIT.usage;
      return;
    }
    reportError(err, json);
  }
}

// Run when executed directly (tsx src/cli.ts, node dist/cli.js) or through bin/rotator.js.
if (require.main === module || /[\\/]bin[\\/]rotator(\.js)?$/.test(require.main?.filename ?? '')) void main();
