// rustfs_rotator_retrying_steps and rustfs_rotator_retry_attempts from the open runs' status.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { retrying, type Snapshot } from '../../src/metrics/model';

const snapshot = (open: Snapshot['open']): Snapshot => ({
  zones: ['ingest', 'serving'],
  closed: [],
  open,
  schedules: [],
});

describe('retrying metrics', () => {
  const s = snapshot([
    {
      workflowId: 'rotate-zone-serving',
      type: 'RotateZone',
      zone: 'serving',
      phase: 'waiting-grace',
      retrying: [{ kind: 'pastSwitch', attempts: 7, escalated: true }],
    },
    {
      workflowId: 'rotate-root',
      type: 'RotateRoot',
      phase: 'running',
      retrying: [
        { kind: 'pastSwitch', attempts: 2, escalated: false },
        { kind: 'pastSwitch', attempts: 3, escalated: false },
      ],
    },
    // Not retrying, and a run whose status could not be queried: no series.
    { workflowId: 'rotate-zone-ingest', type: 'RotateZone', zone: 'ingest', phase: 'running' },
    { workflowId: 'bootstrap-cluster', type: 'BootstrapCluster' },
  ]);

  test('steps and their failed attempts, by workflow, zone, kind and whether people were told', () => {
    const key = (l: Record<string, string>) => JSON.stringify(Object.entries(l).sort());
    const steps = new Map(retrying(s, 'steps').map((x) => [key(x.labels), x.value]));
    const attempts = new Map(retrying(s, 'attempts').map((x) => [key(x.labels), x.value]));
    const zone = { workflow: 'RotateZone', zone: 'serving', kind: 'pastSwitch', escalated: 'true' };
    const root = { workflow: 'RotateRoot', zone: '', kind: 'pastSwitch', escalated: 'false' };
    assert.equal(steps.get(key(zone)), 1);
    assert.equal(attempts.get(key(zone)), 7);
    assert.equal(steps.get(key(root)), 2);
    assert.equal(attempts.get(key(root)), 5);
    assert.equal(steps.size, 2);
  });
});
