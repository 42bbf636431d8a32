// Which test files may run at the same time. scripts/run-tests.mjs reads this; a file not
// named here that needs the stack runs alone, so a new test is safe by default.
//
// - no stack: test/unit and test/replay (pure logic, time-skipping workflow tests, committed
//   histories). They start at once, beside the typecheck, the lint and the stack start.
// - ISOLATED: stack files that work only in namespaces, task queues and store users of their
//   own (random or test-unique names). They neither restart the store, change its root, drive
//   the node agent, nor touch the dashi zones or the run locks, so they may share the stack
//   with one another.
// - PRIVATE: stack files that bring their own store process, their own Kubernetes
//   namespaces and their own Temporal namespace (test/support/private-namespace.ts; a whole
//   dashi platform with its node agent and work pool: test/support/private-sandbox.ts), and
//   use the apiserver, the Temporal server and Prefect only inside those. Nothing another file
//   does (a root rotation, a store restart, a run lock, a schedule, an outage it plays)
//   reaches them, and nothing they do reaches another file: they run beside any file, the
//   exclusive ones included. Long waits (outages held for minutes) belong here, off the
//   exclusive chain; so do the long CLI files, which then run in the slot the exclusive chain
//   leaves free.
// - everything else on the stack (the dashi zones, the root, the node agent, the locks, the
//   schedules): one file at a time, with no other stack file beside it (a file that needs no
//   stack, or a PRIVATE one, may share the machine with it).
import path from 'node:path';

export const NO_STACK_DIRS = ['test/unit', 'test/replay'];

/**
 * Files that need the distributed store (a 4-node sandbox: ROTATOR_STORE_NODES=4, RustFS):
 * not part of the default run, which has one store process; scripts/test-rustfs.ts's
 * multi-node round runs them.
 */
export const MULTI_NODE_DIR = 'test/multinode';
export const MULTI_NODE_STORE_NODES = '4';
/**
 * Their time limit per file, in seconds: they wait on held restarts and on nodes rejoining their
 * cluster, one restart window after another; a hang is still caught, later.
 */
export const MULTI_NODE_FILE_TIMEOUT_S = 900;

export const isMultiNode = (file) =>
  path.normalize(file).split(path.sep).join('/').startsWith(`${MULTI_NODE_DIR}/`);

export const ISOLATED = new Set([
  'test/integration/kube-consumers.test.ts',
  'test/integration/kube-netpol.test.ts',
  'test/integration/kube-rbac.test.ts',
  'test/integration/kube-rollout.test.ts',
  'test/integration/kube-secrets.test.ts',
  'test/integration/rustfs-admin.test.ts',
  'test/integration/rustfs-madmin-live.test.ts',
  'test/integration/rustfs-store-identity.test.ts',
  'test/integration/worker-process.test.ts',
]);

export const PRIVATE = new Set([
  'test/e2e/outages.test.ts',
  // A dashi platform of their own (test/support/private-sandbox.ts): store process, node agent,
  // root Secret, zones, consumers, work pool, Temporal namespace (schedules, run locks).
  'test/integration/cli-commands.test.ts',
  'test/integration/cli-pause.test.ts',
  'test/integration/cli-schedule.test.ts',
  'test/integration/web-ui-start.test.ts',
  'test/e2e/root-rotation.test.ts',
]);

/**
 * PRIVATE files that mostly wait (outages held for minutes on processes of their own): they
 * take no slot, so the exclusive chain and the files that need no stack keep theirs. Every
 * other file, PRIVATE ones included, takes a slot while it runs.
 */
export const WAITING = new Set(['test/e2e/outages.test.ts']);

/** Whether a running file counts against the ROTATOR_TEST_JOBS slots. */
export const takesSlot = (file) => !WAITING.has(path.normalize(file).split(path.sep).join('/'));

/** 'none' (needs no stack), 'private', 'isolated' or 'exclusive'. */
export function laneOf(file) {
  const f = path.normalize(file).split(path.sep).join('/');
  if (NO_STACK_DIRS.some((d) => f.startsWith(`${d}/`))) return 'none';
  if (PRIVATE.has(f)) return 'private';
  return ISOLATED.has(f) ? 'isolated' : 'exclusive';
}

/** Whether a file of `lane` may start while files of `activeLanes` run. */
export function mayStartBeside(lane, activeLanes) {
  const others = activeLanes.filter((l) => l !== 'none' && l !== 'private');
  if (lane === 'none' || lane === 'private') return true;
  if (lane === 'exclusive') return others.length === 0;
  return !others.includes('exclusive');
}
