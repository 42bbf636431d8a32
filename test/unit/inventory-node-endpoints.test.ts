// store.nodeEndpoints and store.rootStrategy (RotateRoot's strategies, issue 25 point 3): each
// store pod's own URL, as a template or a mapping, held to the admin endpoint's rule on plain
// http://, and the strategy an inventory may choose.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { InventoryError, nodeEndpointOf, parseInventory } from '../../src/inventory';
import { DASHI_YAML } from '../support/dashi';

/** config/dashi.yaml with these store keys set. */
function withStore(keys: Record<string, unknown>) {
  const doc = parseDocument(DASHI_YAML);
  for (const [k, v] of Object.entries(keys)) doc.setIn(['store', k], doc.createNode(v));
  return parseInventory(doc.toString(), 'inv.yaml');
}

const issue = (keys: Record<string, unknown>): string => {
  try {
    withStore(keys);
  } catch (err) {
    assert.ok(err instanceof InventoryError, String(err));
    return err.message;
  }
  return assert.fail('the inventory was accepted');
};

test('a template names each pod; a mapping names each pod it lists', () => {
  const template = withStore({ nodeEndpoints: 'https://{pod}.rustfs-headless.dashi-platform.svc:9000' });
  assert.equal(
    nodeEndpointOf(template.store, 'rustfs-2'),
    'https://rustfs-2.rustfs-headless.dashi-platform.svc:9000',
  );
  const mapping = withStore({
    nodeEndpoints: { 'rustfs-0': 'http://127.0.0.1:9001', 'rustfs-1': 'http://127.0.0.1:9002' },
  });
  assert.equal(nodeEndpointOf(mapping.store, 'rustfs-1'), 'http://127.0.0.1:9002');
  assert.equal(nodeEndpointOf(mapping.store, 'rustfs-3'), undefined);
  assert.equal(nodeEndpointOf(withStore({}).store, 'rustfs-0'), undefined);
});

test('a template without {pod}, or plain http:// to a pod off loopback, is refused', () => {
  assert.match(
    issue({ nodeEndpoints: 'https://rustfs.svc:9000' }),
    /store\.nodeEndpoints: expected a URL template with \{pod\}/,
  );
  assert.match(
    issue({
      nodeEndpoints: 'http://{pod}.rustfs-headless.dashi-platform.svc:9000',
      allowInsecureAdmin: false,
    }),
    /store\.nodeEndpoints: expected https:\/\/ for the store's admin API/,
  );
  // The inventory that already allows plain http:// admin calls allows them to the pods too.
  const allowed = withStore({
    nodeEndpoints: 'http://{pod}.rustfs-headless.dashi-platform.svc:9000',
    allowInsecureAdmin: true,
  });
  assert.equal(
    nodeEndpointOf(allowed.store, 'rustfs-0'),
    'http://rustfs-0.rustfs-headless.dashi-platform.svc:9000',
  );
});

test('rootStrategy: rolling or all-at-once', () => {
  assert.equal(withStore({ rootStrategy: 'rolling' }).store.rootStrategy, 'rolling');
  assert.equal(withStore({}).store.rootStrategy, undefined, 'derived from preflight when unset');
  assert.match(
    issue({ rootStrategy: 'blue-green' }),
    /store\.rootStrategy: expected "rolling" \(one store pod at a time\) or "all-at-once"/,
  );
});
