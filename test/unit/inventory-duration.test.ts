import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/inventory/duration';

test('parseDuration accepts kubectl/Go-style durations', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1m30s500ms'), 90_500);
  assert.equal(parseDuration('0s'), 0);
});

test('parseDuration refuses ambiguous or malformed values', () => {
  for (const bad of ['', '30', '2 minutes', '1h 30m', '-5m', 'm', '1w', '1H', 'PT2M']) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
});

test('formatDuration round-trips the compact form', () => {
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(90_500), '1m30s500ms');
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(86_400_000 + 1000), '1d1s');
  for (const text of ['2m', '30m', '10m', '1h30m', '45s'])
    assert.equal(formatDuration(parseDuration(text) ?? -1), text);
});
