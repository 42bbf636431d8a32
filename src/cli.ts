#!/usr/bin/env node
// `rotator`: commander wiring only; each command lives in its own file under src/cli/.
// Errors from any command go through the single handler (a message, an exit code, never
// a stack); the process ends by itself with process.exitCode, never process.exit().
import { Command, CommanderError } from 'commander';
import { registerAudit } from './cli/audit';
import { registerDemo } from './cli/demo';
import { registerHistory } from './cli/history';
import { registerNetpol } from './cli/netpol';
import { CliError, EXIT, reportError } from './cli/output';
import { registerPlan } from './cli/plan';
import { registerRbac } from './cli/rbac';
import { registerSandbox } from './cli/sandbox';
import { registerSchedule } from './cli/schedule';
import { registerStartWorkflow } from './cli/start-workflow';
import { registerStatus } from './cli/status';
import { registerUpdates } from './cli/updates';

export function buildProgram(): Command {
  const program = new Command()
    .name('rotator')
    .description('Bootstrap and rotate RustFS credentials in Kubernetes, orchestrated by Temporal')
    .showHelpAfterError()
    .exitOverride();
  registerStartWorkflow(program);
  registerStatus(program);
  registerHistory(program);
  registerUpdates(program);
  registerSchedule(program);
  registerPlan(program);
  registerAudit(program);
  registerNetpol(program);
  registerRbac(program);
  registerDemo(program);
  registerSandbox(program);
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
    await buildProgram().parseAsync(argv);
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
