// Workflow tests without the stack: Temporal's time-skipping test server (the Java build
// from tools/versions.json, installed by scripts/install-tools.mjs) and activities mocked
// through the same typed interface the worker registers. Timers of days return at once.
import { after } from 'node:test';
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

/**
 * The env of a test process: one test server and one worker for all its tests (each would cost
 * a JVM start, and a worker that loads the workflow bundle into new threads: about 0.7 CPU-s per
 * test). Torn down once, after the file's last test. Scripts that record histories use
 * workflowTestEnv() and tear it down themselves.
 */
let shared: Promise<TestWorkflowEnvironment> | undefined;
export function sharedWorkflowEnv(): Promise<TestWorkflowEnvironment> {
  shared ??= workflowTestEnv();
  return shared;
}

/** The worker of a shared env, and the activities of the test it serves now. */
interface SharedWorker {
  taskQueue: string;
  serving: { activities?: Activities };
  worker: Worker;
  running: Promise<void>;
  /** Rejects once the worker has stopped: a test racing it fails instead of hanging. */
  stopped: Promise<never>;
}
let sharedWorker: Promise<SharedWorker> | undefined;

async function startSharedWorker(env: TestWorkflowEnvironment): Promise<SharedWorker> {
  const serving: SharedWorker['serving'] = {};
  // Every activity goes to the mocks of the test being run; one called between tests (a
  // workflow a test left open, which it terminates first) fails as an unplanned call would.
  const dispatch: Record<string, (...args: unknown[]) => unknown> = {};
  for (const name of ACTIVITY_NAMES) {
    dispatch[name] = (...args: unknown[]) => {
      const impl = serving.activities?.[name] as ((...a: unknown[]) => unknown) | undefined;
      if (!impl)
        throw ApplicationFailure.nonRetryable(`activity ${name} called between tests`, 'UnexpectedActivity');
      return impl(...args);
    };
  }
  const taskQueue = `wf-test-${process.pid}-shared`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: dispatch,
    // A mock a terminated workflow left waiting (its test is over) would hold the shutdown
    // after the file's last test for ever.
    shutdownForceTime: '5s',
  });
  const running = worker.run();
  const stopped = running.then(() => {
    throw new Error('the shared test worker stopped');
  });
  stopped.catch(() => undefined); // also when no test races it (it stops after the last one)
  return { taskQueue, serving, worker, running, stopped };
}

/** Terminates every workflow still open on the env's server, children abandoned by a parent included. */
async function terminateOpen(env: TestWorkflowEnvironment): Promise<void> {
  const namespace = env.namespace ?? 'default';
  const open = await env.client.workflowService.listOpenWorkflowExecutions({
    namespace,
    maximumPageSize: 1000,
  });
  for (const e of open.executions ?? []) {
    const id = e.execution?.workflowId;
    if (!id) continue;
    await env.client.workflow
      .getHandle(id, e.execution?.runId ?? undefined)
      .terminate('the test that started it is over')
      .catch(() => undefined); // closed meanwhile
  }
}

// A test file runs in a process of its own (node --test, or run directly): the shared env ends
// after its last test. The history recorders are scripts, not tests: they register no test hook.
if (/\.test\.ts$/.test(process.argv[1] ?? '')) {
  after(async () => {
    if (!shared) return;
    const env = await shared;
    if (sharedWorker) {
      const w = await sharedWorker;
      w.worker.shutdown();
      await w.running.catch(() => undefined); // forced after shutdownForceTime: nothing left to test
    }
    await env.teardown();
  });
}

/**
 * Runs `fn` while a worker with these activities serves a task queue of `env`: the shared env's
 * one worker (its open workflows terminated after `fn`, so none outlives its test), else a
 * worker of its own on a fresh task queue.
 */
export async function withWorker<T>(
  env: TestWorkflowEnvironment,
  activities: Activities,
  fn: (client: Client, taskQueue: string) => Promise<T>,
): Promise<T> {
  if (shared && env === (await shared)) {
    sharedWorker ??= startSharedWorker(env);
    const w = await sharedWorker;
    w.serving.activities = activities;
    try {
      return await Promise.race([fn(env.client, w.taskQueue), w.stopped]);
    } finally {
      await terminateOpen(env);
      w.serving.activities = undefined;
    }
  }
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
