#!/usr/bin/env node
import { Command } from 'commander';
import { registerSandbox } from './cli/sandbox';
import { reportError } from './cli/output';

const program = new Command()
  .name('rotator')
  .description('Bootstrap and rotate RustFS credentials in Kubernetes, orchestrated by Temporal')
  .showHelpAfterError();

registerSandbox(program);

program.parseAsync(process.argv).catch((err) => reportError(err, process.argv.includes('--json')));
