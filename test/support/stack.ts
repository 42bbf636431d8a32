import fs from 'node:fs';
import { SANDBOX_STATE_ENV, type SandboxState } from '../../src/sandbox/state';

/**
 * The stack started once per test run by scripts/run-tests.mjs. A test that needs it
 * and runs outside that runner fails loudly with the command to use.
 */
export function getStack(): SandboxState {
  const file = process.env[SANDBOX_STATE_ENV];
  if (!file || !fs.existsSync(file)) {
    throw new Error(
      `This test needs the local stack (Temporal, object store, Kubernetes). Run it through the runner, ` +
        `which builds and starts the stack: \`npm test\` or \`node scripts/run-tests.mjs <file>\`.`,
    );
  }
  return JSON.parse(fs.readFileSync(file, 'utf8')) as SandboxState;
}
