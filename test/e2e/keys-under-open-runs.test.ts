// Keys rotated under open runs (issue 24 point 5), on the real stack: the payload codec's key
// changes while a RotateRoot is paused, and the run then resumes (or rolls back) on a worker
// that encrypts with the new key and still decrypts the old one; a failure's message reaches
// the server only as ciphertext; and the worker's own store admin credential, which RotateRoot
// changes, is read per call, so the worker that rotated the root goes on working with it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Client, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { toolPath } from '../../src/sandbox/tools';
import { AesGcmCodec } from '../../src/temporal/codec';
import { dataConverter } from '../../src/temporal/data-converter';
import { resumeUpdate, rollbackUpdate, statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult, type WorkflowStatus } from '../../src/workflows/types';
import { eventually, readSecretData } from '../support/kube';
import {
  assertNoSecretsInHistory,
  collectSecretValues,
  nodeAgent,
  startRotator,
  type Rotator,
} from '../support/rotator';
import { getStack } from '../support/stack';
import { adminWorks } from '../support/store';

const stack = getStack();
const agent = nodeAgent(stack);
const secrets = new Set<string>();
const rootKey = async () => (await readSecretData(stack, 'dashi-platform', 'rustfs-root'))['secret-key']!;

/** The key ids of every encrypted payload of a run, read from the raw history (no codec). */
async function keyIdsInHistory(client: Client, workflowId: string): Promise<Set<string>> {
  const ids = new Set<string>();
  const walk = (v: unknown): void => {
    if (!v || typeof v !== 'object' || v instanceof Uint8Array) return;
    const id = (v as { metadata?: Record<string, Uint8Array> }).metadata?.['encryption-key-id'];
    if (id) ids.add(Buffer.from(id).toString());
    for (const x of Object.values(v)) walk(x);
  };
  walk((await client.workflow.getHandle(workflowId).fetchHistory()).events);
  return ids;
}

describe('codec and admin keys rotated under open runs (real stack)', () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before1 = new AesGcmCodec(new Map([['before', oldKey]]), 'before');
  /** What the worker runs with after the rotation: the new key encrypts, the old one still decrypts. */
  const rotated = new AesGcmCodec(
    new Map([
      ['after', newKey],
      ['before', oldKey],
    ]),
    'after',
  );
  let rotator: Rotator;
  let client: Client;

  before(async () => {
    rotator = await startRotator(stack, { grace: '0s', codec: before1 });
    await rotator.client.workflow.execute('BootstrapCluster', {
      taskQueue: rotator.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
    await collectSecretValues(stack, secrets);
  });
  beforeEach(() => agent.reset());
  after(async () => {
    await client?.workflow
      .getHandle('rotate-root')
      .terminate('test cleanup')
      .catch(() => undefined);
    await agent.reset().catch(() => undefined);
    await rotator?.close();
  });

  const phase = (handle: WorkflowHandle, want: WorkflowStatus['phase']) =>
    eventually(`phase ${want}`, async () => (await handle.query(statusQuery)).phase === want, 60_000);

  /** A RotateRoot paused after its store restart, then the worker restarted with the rotated codec. */
  async function pausedRootUnderNewKey(): Promise<{ handle: WorkflowHandle; rootBefore: string }> {
    await rotator.stopWorker();
    await rotator.restartWorker({ codec: before1 });
    const rootBefore = await rootKey();
    await agent.hold();
    const started = await rotator.client.workflow.start('RotateRoot', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-root',
      args: [{ approve: true, restartTimeout: '3s', pauseTimeout: '10m' }],
    });
    await phase(started, 'paused');
    await agent.held();
    await collectSecretValues(stack, secrets);
    // Everything so far was written with the old key; now the key changes under the paused run.
    assert.deepEqual([...(await keyIdsInHistory(rotator.client, 'rotate-root'))], ['before']);
    await rotator.stopWorker();
    await rotator.restartWorker({ codec: rotated });
    client = new Client({
      connection: rotator.client.connection,
      namespace: stack.temporal.namespace,
      dataConverter: dataConverter(rotated),
    });
    const handle = client.workflow.getHandle('rotate-root');
    // The new worker decrypts the run's old history to answer at all.
    assert.equal((await handle.query(statusQuery)).phase, 'paused');
    return { handle, rootBefore };
  }

  test('a codec key rotated under a paused RotateRoot: it resumes and completes; the same worker then rotates a zone with the new root', async () => {
    const { handle, rootBefore } = await pausedRootUnderNewKey();
    await agent.release();
    await eventually('the store back with the new root', async () => {
      const d = await readSecretData(stack, 'dashi-platform', 'rustfs-root');
      return (await adminWorks(stack, { accessKey: d['access-key']!, secretKey: d['secret-key']! })) === true;
    });
    assert.match(
      await handle.executeUpdate(resumeUpdate, { args: [{ by: 'e2e-oncall' }] }),
      /another restart window/,
    );
    const result = (await handle.result()) as WorkflowResult;
    assert.equal(result.outcome, 'completed');
    assert.notEqual(await rootKey(), rootBefore);
    const ids = await keyIdsInHistory(client, 'rotate-root');
    assert.deepEqual([...ids].sort(), ['after', 'before'], 'payloads of both keys in one run');

    // The worker's admin credential is the root Secret, read at each call: the worker that
    // changed the root (not restarted since) goes on administering the store with the new one.
    const zone = (await client.workflow.execute('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving' }],
    })) as WorkflowResult;
    assert.equal(zone.outcome, 'completed');
    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory({ ...rotator, client, codec: rotated }, ['rotate-root'], secrets);
  });

  test('a codec key rotated under a paused RotateRoot: another one rolls back', async () => {
    const { handle, rootBefore } = await pausedRootUnderNewKey();
    assert.match(
      await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'e2e-oncall' }] }),
      /rolling back/,
    );
    await assert.rejects(
      () => handle.result(),
      (err: WorkflowFailedError) => {
        assert.equal((err.cause as { type?: string }).type, 'RolledBack');
        return true;
      },
    );
    assert.equal(await rootKey(), rootBefore, 'the previous root is back in the Secret');
    assert.equal((await handle.query(statusQuery)).phase, 'rolled-back');
    await assertNoSecretsInHistory({ ...rotator, client, codec: rotated }, ['rotate-root'], secrets);
  });

  test("a failure's message is ciphertext in the raw history and readable through the codec", async () => {
    // The zone's name reaches the server in clear anyway (the workflow's search attribute);
    // what only the failure says is the list of known zones.
    const zone = `nozone-${randomBytes(3).toString('hex')}`;
    const handle = await client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: `rotate-zone-${zone}`,
      args: [{ zone, dryRun: true }],
    });
    const marker = 'Known zones: ingest, pipeline, serving';
    const err = await handle.result().then(
      () => assert.fail('a RotateZone of a zone the inventory lacks completed'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    // Through the codec: the message, naming the zone.
    const messages: string[] = [];
    for (let e: Error | undefined = err; e; e = (e as { cause?: Error }).cause) messages.push(e.message);
    assert.ok(
      messages.some((m) => m.includes(marker)),
      `a message names the known zones: ${messages.join(' | ')}`,
    );
    // Raw, as the server stores it and `temporal workflow show` prints it without a codec.
    const raw = execFileSync(
      toolPath('temporal'),
      [
        'workflow',
        'show',
        '-w',
        handle.workflowId,
        '--output',
        'json',
        '--address',
        stack.temporal.address,
        '--namespace',
        stack.temporal.namespace,
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    assert.match(raw, /"message":\s*"Encoded failure"/);
    assert.ok(!raw.includes('Known zones'), 'the failure message appears nowhere in the raw history');
  });
});
