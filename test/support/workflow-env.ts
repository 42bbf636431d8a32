// Workflow tests without the stack: Temporal's time-skipping test server (the Java build
// from tools/versions.json, installed by scripts/install-tools.mjs) and activities mocked
// through the same typed interface the worker registers. Timers of days return at once.
import { type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  bundleWorkflowCode,
  DefaultLogger,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { createActivities, type Activities, type ActivityDeps } from '../../src/activities';
import { SEARCH_ATTRIBUTE_KIND, SEARCH_ATTRIBUTE_ZONE } from '../../src/workflows/definitions';
import { toolPath } from '../../src/sandbox/tools';
import { WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from '../../src/temporal/workflow-code';
import { testWorkflowBundle } from './build';

/** Every activity name the worker registers, taken from the real factory (deps are not touched). */
export const ACTIVITY_NAMES = Object.keys(createActivities({} as ActivityDeps)) as (keyof Activities)[];

// Worker lifecycle chatter would bury the test output; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

// The SDK gives the Java test server 5 s to listen; a loaded 2-core machine (tests run
// concurrently) sometimes needs longer, so a start that timed out is tried again.
const START_ATTEMPTS = 3;

// The test server lives for one test file: a JVM that never warms up spends more CPU compiling
// with C2 than it saves (measured: about 3 CPU-s less per file, on a run that is CPU-bound).
// The server inherits this process's environment; the test process itself is not a JVM.
const TEST_SERVER_JVM_OPTIONS = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC';

async function startTestServer(path: string): Promise<TestWorkflowEnvironment> {
  process.env.JAVA_TOOL_OPTIONS ??= TEST_SERVER_JVM_OPTIONS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path } },
      });
    } catch (err) {
      if (attempt === START_ATTEMPTS || !/did not start within/.test(String(err))) throw err;
    }
  }
}

export async function workflowTestEnv(): Promise<TestWorkflowEnvironment> {
  // toolPath fails with the install command when the test server is not installed.
  const path = toolPath('temporal-test-server');
  const env = await startTestServer(path);
  // The workflows upsert these on start, as the sandbox's dev server registers them.
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: {
      [SEARCH_ATTRIBUTE_ZONE]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      [SEARCH_ATTRIBUTE_KIND]: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    },
  });
  return env;
}

/**
 * A full activity set: the given implementations, and for every other activity (but
 * `announce`, a no-op) one that fails non-retryably, so an unplanned call shows in the test
 * as that activity's name.
 */
export function mockActivities(impl: Partial<Activities>): Activities {
  const all: Record<string, unknown> = {};
  // Every run announces (Events, notifications); a test that looks at them passes its own.
  const planned: Partial<Activities> = { announce: async () => ({ events: [], notified: [] }) };
  for (const name of ACTIVITY_NAMES) {
    all[name] =
      impl[name] ??
      planned[name] ??
      (async () => {
        throw ApplicationFailure.nonRetryable(`unexpected activity ${name}`, 'UnexpectedActivity');
      });
  }
  return all as unknown as Activities;
}

let bundle: Promise<WorkflowBundleWithSourceMap | { codePath: string }> | undefined;
/** The real workflows: the run's bundle (scripts/run-tests.mjs), else bundled once per test process. */
function workflowBundle(): Promise<WorkflowBundleWithSourceMap | { codePath: string }> {
  const built = testWorkflowBundle();
  bundle ??= built
    ? Promise.resolve({ codePath: built })
    : bundleWorkflowCode({
        workflowsPath: WORKFLOWS_PATH,
        workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES],
        logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
      });
  return bundle;
}

let queues = 0;
/** Runs `fn` while a worker with these activities serves a fresh task queue of `env`. */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  activities: Activities,
  fn: (client: Client, taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `wf-test-${process.pid}-${++queues}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  return worker.runUntil(fn(env.client, taskQueue));
}
