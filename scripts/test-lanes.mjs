// Which test files may run at the same time. scripts/run-tests.mjs reads this; a file not
// named here that needs the stack runs alone, so a new test is safe by default.
//
// - no stack: test/unit and test/replay (pure logic, time-skipping workflow tests, committed
//   histories). They start at once, beside the typecheck, the lint and the stack start.
// - ISOLATED: stack files that work only in namespaces, task queues and store users of their
//   own (random or test-unique names). They neither restart the store, change its root, drive
//   the node agent, nor touch the dashi zones or the run locks, so they may share the stack
//   with one another.
// - everything else on the stack (the dashi zones, the root, the node agent, the locks, the
//   schedules): one file at a time, with no other stack file beside it (a file that needs no
//   stack may share the machine with it).
import path from 'node:path';

export const NO_STACK_DIRS = ['test/unit', 'test/replay'];

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

/** 'none' (needs no stack), 'isolated' or 'exclusive'. */
export function laneOf(file) {
  const f = path.normalize(file).split(path.sep).join('/');
  if (NO_STACK_DIRS.some((d) => f.startsWith(`${d}/`))) return 'none';
  return ISOLATED.has(f) ? 'isolated' : 'exclusive';
}
