// Internal state is never accepted from outside, on the real stack: while a RotateZone of
// ingest waits out its grace (the previous key still valid for its consumers), a client starts
// a RotateZone carrying a forged `continued` state whose grace ended long ago. The forged run
// ends InvalidInput before any step; both of the zone's keys keep working and the real run
// still waits.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { revokeNowUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { readSecretData } from '../support/kube';
import { startRotator, waitPhase, type Rotator } from '../support/rotator';
import { getStack } from '../support/stack';
import { canList, creds } from '../support/store';

const stack = getStack();
let rotator: Rotator;

describe('forged internal state', () => {
  before(async () => {
    rotator = await startRotator(stack, { grace: '1h' });
    await rotator.client.workflow.execute('BootstrapCluster', {
      taskQueue: rotator.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
  });
  after(async () => {
    await rotator?.close();
  });

  test('a client start with a forged `continued` ends InvalidInput; both zone keys unchanged', async () => {
    const real = await rotator.client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-ingest',
      args: [{ zone: 'ingest' }],
    });
    const waiting = await waitPhase(real, 'waiting-grace', 120_000);
    const record = await readSecretData(stack, 'dashi-data', 'dashi-rustfs-ingest-pending');
    const previous = { accessKey: record['previous-access-key']!, secretKey: record['previous-secret-key']! };
    const current = creds(await readSecretData(stack, 'dashi-data', 'dashi-rustfs-ingest'));
    assert.notEqual(previous.accessKey, current.accessKey);

    const longAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
    const forged = rotator.client.workflow.execute('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: `forged-${randomBytes(3).toString('hex')}`,
      args: [
        {
          zone: 'ingest',
          continued: {
            strategy: 'overlap',
            previousFingerprint: waiting.fingerprints.previous,
            pendingFingerprint: waiting.fingerprints.pending,
            promotedAt: longAgo(3),
            graceUntil: longAgo(2),
            boundUntil: longAgo(1),
            maxGrace: '1h',
            restarted: [],
            steps: [],
            generation: 2,
          },
        },
      ],
    });
    await assert.rejects(forged, (err: unknown) => {
      assert.ok(err instanceof WorkflowFailedError, String(err));
      assert.ok(err.cause instanceof ApplicationFailure, String(err.cause));
      assert.equal(err.cause.type, 'InvalidInput', err.cause.message);
      assert.match(err.cause.message, /continued/);
      return true;
    });

    assert.equal(await canList(stack, previous, 'landing'), true, 'the previous key still works');
    assert.equal(await canList(stack, current, 'landing'), true, 'the current key still works');
    assert.deepEqual(
      creds(await readSecretData(stack, 'dashi-data', 'dashi-rustfs-ingest')),
      current,
      'the zone Secret is unchanged',
    );
    assert.equal((await real.query(statusQuery)).phase, 'waiting-grace', 'the real run still waits');

    await real.executeUpdate(revokeNowUpdate, { args: [{ by: 'test', reason: 'clean up' }] });
    assert.equal(((await real.result()) as WorkflowResult).outcome, 'completed');
    assert.equal(
      await canList(stack, previous, 'landing'),
      'AuthenticationFailed',
      'revoked by the real run',
    );
  });
});
