import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryAfterCellError } from '../../src/activities/smoke';
import { AdminError } from '../../src/rustfs';
import { smokeResult } from '../../src/workflows/summaries';

const err = (code: ConstructorParameters<typeof AdminError>[0]) =>
  new AdminError(code, `${code} from the store`, { operation: 'putObject' });

test('a smoke cell that fails transiently retries the smoke instead of counting a mismatch', () => {
  // A store restarting under the smoke (seen in CI during RotateRoot) must not fail the run.
  for (const code of ['Unavailable', 'NotReady', 'ServerError', 'AuthenticationFailed'] as const)
    assert.equal(retryAfterCellError(err(code)), true, code);
  // Answers that say something about the identity or the request are mismatches.
  for (const code of ['NotFound', 'BadRequest', 'NotImplemented', 'ProtocolError'] as const)
    assert.equal(retryAfterCellError(err(code)), false, code);
  assert.equal(retryAfterCellError(new Error('not from the store')), false);
});

test("a smoke step's result names the nodes asked and the ones skipped", () => {
  assert.equal(smokeResult({ passed: 6, cells: 6 }), '6/6 cells');
  assert.equal(
    smokeResult({ passed: 6, cells: 6, nodes: ['rustfs-0', 'rustfs-2', 'rustfs-3'], skipped: ['rustfs-1'] }),
    '6/6 cells on 3 node(s), rustfs-1 not serving (skipped)',
  );
  assert.equal(
    smokeResult({ passed: 6, cells: 6, nodes: ['rustfs-0', 'rustfs-1'], skipped: [] }),
    '6/6 cells on 2 node(s)',
  );
});
