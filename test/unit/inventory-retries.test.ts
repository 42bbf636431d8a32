// The inventory's `retries`: each step kind's budget within its floor and ceiling, refused with
// a message naming the setting and its bounds; unset, the run's era defaults apply.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InventoryError, parseInventory } from '../../src/inventory';
import { ERAS, withOverrides } from '../../src/workflows/run-constants';
import { VALID_INVENTORY } from '../support/inventory';

const withRetries = (yaml: string) => `${VALID_INVENTORY}retries:\n${yaml}`;

function rejected(text: string): string {
  try {
    parseInventory(text, 'bad.yaml');
  } catch (error) {
    assert.ok(error instanceof InventoryError, String(error));
    return error.message;
  }
  assert.fail('expected the inventory to be rejected');
}

describe('inventory retries', () => {
  test('absent: the inventory carries none, and the era defaults stand', () => {
    const inv = parseInventory(VALID_INVENTORY, 'ok.yaml');
    assert.equal('retries' in inv, false);
    const budgets = ERAS.outageBudgets.budgets!;
    assert.deepEqual(withOverrides(budgets, undefined), budgets);
  });

  test('each setting in milliseconds, and only the ones set override the era', () => {
    const inv = parseInventory(withRetries('  pastSwitch: 2h\n  escalateAfter: 10m\n'), 'ok.yaml');
    assert.deepEqual(inv.retries, { pastSwitch: 2 * 3600_000, escalateAfter: 10 * 60_000 });
    const budgets = withOverrides(ERAS.outageBudgets.budgets!, inv.retries);
    assert.equal(budgets.steps.pastSwitch.budgetMs, 2 * 3600_000);
    assert.equal(
      budgets.steps.pastSwitch.maxIntervalMs,
      ERAS.outageBudgets.budgets!.steps.pastSwitch.maxIntervalMs,
    );
    assert.equal(budgets.steps.quick.budgetMs, 15 * 60_000);
    assert.equal(budgets.escalateAfterMs, 10 * 60_000);
  });

  test('below the floor: refused naming the setting and both bounds', () => {
    assert.match(
      rejected(withRetries('  pastSwitch: 5m\n')),
      /retries\.pastSwitch: expected at least 10m and at most 7d \(how long a step after the switch retries while the previous key stays valid\)/,
    );
  });

  test('above the ceiling: refused', () => {
    assert.match(
      rejected(withRetries('  quick: 2d\n')),
      /retries\.quick: expected at least 1m and at most 24h/,
    );
  });

  test('not a duration, and an unknown kind: refused', () => {
    assert.match(
      rejected(withRetries('  compensation: soon\n')),
      /retries\.compensation: expected a duration/,
    );
    assert.match(rejected(withRetries('  revocation: 1h\n')), /retries.*revocation/);
  });
});
