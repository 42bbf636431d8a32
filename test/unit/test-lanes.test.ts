// Which test files may share the stack (scripts/test-lanes.mjs): the rules the runner applies
// when it picks the next file, checked on their own.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { type Lane } from '../../scripts/test-lanes.mjs';

// The runner's module is ESM; this test is compiled as CommonJS.
const lanes = () => import('../../scripts/test-lanes.mjs');

test('each file has one lane: no stack, private, isolated, or exclusive by default', async () => {
  const { laneOf, PRIVATE } = await lanes();
  assert.equal(laneOf('test/unit/codec.test.ts'), 'none');
  assert.equal(laneOf('test/replay/replay.test.ts'), 'none');
  assert.equal(laneOf('test/integration/kube-secrets.test.ts'), 'isolated');
  assert.equal(laneOf('test/e2e/zone-failures.test.ts'), 'exclusive');
  assert.equal(
    laneOf('test/e2e/a-new-file-nobody-listed.test.ts'),
    'exclusive',
    'a new file is safe by default',
  );
  for (const f of PRIVATE) assert.equal(laneOf(f), 'private', f);
});

test('the CLI files and the root rotation work in a private sandbox of their own; only files that wait take no slot', async () => {
  const { laneOf, PRIVATE, WAITING, takesSlot } = await lanes();
  for (const f of [
    'test/integration/cli-commands.test.ts',
    'test/integration/cli-pause.test.ts',
    'test/integration/cli-schedule.test.ts',
    'test/integration/web-ui-start.test.ts',
    'test/e2e/root-rotation.test.ts',
  ])
    assert.equal(laneOf(f), 'private', f);
  for (const f of WAITING) {
    assert.ok(PRIVATE.has(f), `${f} waits without a slot, so it must bring its own stack`);
    assert.equal(takesSlot(f), false, f);
  }
  assert.equal(takesSlot('test/integration/cli-commands.test.ts'), true);
  assert.equal(takesSlot('test/e2e/root-rotation.test.ts'), true);
  assert.equal(takesSlot('test/unit/codec.test.ts'), true);
});

test('an exclusive file starts only beside files that need no stack or bring their own', async () => {
  const { mayStartBeside } = await lanes();
  assert.equal(mayStartBeside('exclusive', []), true);
  assert.equal(mayStartBeside('exclusive', ['none', 'private']), true);
  assert.equal(mayStartBeside('exclusive', ['isolated']), false);
  assert.equal(mayStartBeside('exclusive', ['exclusive']), false);
});

test('isolated files share the stack with each other, never with an exclusive one', async () => {
  const { mayStartBeside } = await lanes();
  assert.equal(mayStartBeside('isolated', ['isolated', 'private']), true);
  assert.equal(mayStartBeside('isolated', ['exclusive']), false);
});

test('private and no-stack files start beside anything', async () => {
  const { mayStartBeside } = await lanes();
  for (const active of [[], ['exclusive'], ['isolated', 'isolated'], ['private']] as Lane[][]) {
    assert.equal(mayStartBeside('private', active), true, `private beside ${active.join(',')}`);
    assert.equal(mayStartBeside('none', active), true, `none beside ${active.join(',')}`);
  }
});
