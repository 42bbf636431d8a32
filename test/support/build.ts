import path from 'node:path';
import { WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from '../../src/temporal/workflow-code';

/**
 * The compiled tree scripts/run-tests.mjs builds once per run (ROTATOR_TEST_BUILD): src/
 * transpiled to JavaScript, with the workflow bundle beside it. Subprocesses start from it
 * (no TypeScript loader per process) and test workers load its bundle (no webpack per
 * worker). Outside the runner the sources run through tsx and workers bundle at start.
 */
const BUILD = process.env.ROTATOR_TEST_BUILD;
const ROOT = path.join(__dirname, '..', '..');

const ENTRIES = { cli: 'cli', worker: 'worker/main' } as const;

/** Node arguments that run an entry point (src/cli.ts, src/worker/main.ts): the compiled file when the runner built one. */
export function entryArgs(entry: keyof typeof ENTRIES): string[] {
  return BUILD
    ? [path.join(BUILD, `${ENTRIES[entry]}.js`)]
    : ['--import', 'tsx', path.join(ROOT, 'src', `${ENTRIES[entry]}.ts`)];
}

/** The run's workflow bundle, or undefined (the worker then bundles the workflows itself). */
export function testWorkflowBundle(): string | undefined {
  return BUILD ? path.join(BUILD, 'workflow-bundle.js') : undefined;
}

/** What a replay worker replays with: the run's bundle, else the workflows and their interceptors from source. */
export function replayWorkflowCode() {
  const bundle = testWorkflowBundle();
  return bundle
    ? { workflowBundle: { codePath: bundle } }
    : { workflowsPath: WORKFLOWS_PATH, interceptors: { workflowModules: [...WORKFLOW_INTERCEPTOR_MODULES] } };
}
