import path from 'node:path';

/**
 * The compiled tree scripts/run-tests.mjs builds once per run (ROTATOR_TEST_BUILD): src/
 * transpiled to JavaScript, with the workflow bundle beside it. Subprocesses start from it
 * (no TypeScript loader per process) and test workers load its bundle (no webpack per
 * worker). Outside the runner the sources run through tsx and workers bundle at start.
 */
const BUILD = process.env.ROTATOR_TEST_BUILD;
const ROOT = path.join(__dirname, '..', '..');

/** Node arguments that run `src/<entry>.ts`: the compiled file when the runner built one. */
export function entryArgs(entry: 'cli' | 'worker'): string[] {
  return BUILD
    ? [path.join(BUILD, `${entry}.js`)]
    : ['--import', 'tsx', path.join(ROOT, 'src', `${entry}.ts`)];
}

/** The run's workflow bundle, or undefined (the worker then bundles the workflows itself). */
export function testWorkflowBundle(): string | undefined {
  return BUILD ? path.join(BUILD, 'workflow-bundle.js') : undefined;
}
