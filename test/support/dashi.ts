// config/dashi.yaml, read once for every test that runs against the committed inventory.
import fs from 'node:fs';
import path from 'node:path';
import { parseInventory, type Inventory } from '../../src/inventory';

/** config/dashi.yaml's text, for tests that move it into their own namespaces. */
export const DASHI_YAML = fs.readFileSync(path.join(__dirname, '..', '..', 'config', 'dashi.yaml'), 'utf8');
/** config/dashi.yaml as committed: decisions authorized by Kubernetes, no self- or input approval. */
export const dashiInventory = parseInventory(DASHI_YAML, 'config/dashi.yaml');
/**
 * What the workflow tests of everything but approvals run with: config/dashi.yaml taking its
 * decisions from any Temporal client and allowing `approve: true`, as the sandbox's inventory
 * does (src/sandbox/inventory.ts). test/unit/workflow-approval.test.ts tests the committed setting.
 */
export const inventory: Inventory = {
  ...dashiInventory,
  approvals: { ...dashiInventory.approvals, authority: 'any-temporal-client', allowInputApproval: true },
};
export const ZONES = inventory.zones.map((z) => z.name);
