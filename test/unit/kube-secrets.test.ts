import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ApiException, type V1Secret } from '@kubernetes/client-node';
import type { Kube } from '../../src/kube/client';
import { KubeConflictError } from '../../src/kube/errors';
import { rotationAnnotations, toSecretData, updateSecret } from '../../src/kube/secrets';
import { fingerprint } from '../../src/fingerprint';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

describe('secret data', () => {
  test('decodes values and redacts them when logged or serialized', () => {
    const s = toSecretData({
      metadata: { resourceVersion: '7', annotations: { a: '1' } },
      data: { 'secret-key': b64('hunter2-very-secret') },
    });
    assert.equal(s.data['secret-key'], 'hunter2-very-secret');
    assert.equal(s.resourceVersion, '7');
    assert.ok(!JSON.stringify(s).includes('hunter2'));
    assert.ok(!inspect(s, { depth: 5 }).includes('hunter2'));
    assert.match(JSON.stringify(s), /secret-key/);
    // Spreading still sees the values (the redaction hooks are not enumerable).
    assert.equal({ ...s }.data['secret-key'], 'hunter2-very-secret');
  });

  test('rotation annotations say when, which workflow and which key', () => {
    const fp = fingerprint('x');
    assert.deepEqual(
      rotationAnnotations({
        at: new Date('2025-01-02T03:04:05.000Z'),
        workflowId: 'rotate-zone-ingest',
        fingerprint: fp,
      }),
      {
        'rotator.rustfs.dev/rotated-at': '2025-01-02T03:04:05.000Z',
        'rotator.rustfs.dev/workflow-id': 'rotate-zone-ingest',
        'rotator.rustfs.dev/fingerprint': fp,
      },
    );
  });
});

/** An in-memory apiserver for one Secret with real resourceVersion semantics and an optional interloper. */
function fakeKube(
  initial: Record<string, string> | null,
  interfere: (n: number) => Record<string, string> | null,
) {
  let stored: V1Secret | null = initial
    ? {
        metadata: { name: 's', namespace: 'ns', resourceVersion: '1', annotations: { keep: 'me' } },
        data: enc(initial),
      }
    : null;
  let rv = 1;
  let writes = 0;
  function enc(d: Record<string, string>) {
    return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, b64(v)]));
  }
  const conflict = () =>
    new ApiException(
      409,
      'Unknown API Status Code!',
      JSON.stringify({ reason: 'Conflict', message: 'modified' }),
      {},
    );
  const core = {
    readNamespacedSecret: async () => {
      if (!stored) throw new ApiException(404, 'x', JSON.stringify({ reason: 'NotFound' }), {});
      return structuredClone(stored);
    },
    createNamespacedSecret: async ({ body }: { body: V1Secret }) => {
      if (stored) throw conflict();
      stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return stored;
    },
    replaceNamespacedSecret: async ({ body }: { body: V1Secret }) => {
      const extra = interfere(++writes);
      if (extra && stored)
        stored = {
          ...stored,
          data: { ...stored.data, ...enc(extra) },
          metadata: { ...stored.metadata, resourceVersion: String(++rv) },
        };
      if (!stored || body.metadata?.resourceVersion !== stored.metadata?.resourceVersion) throw conflict();
      stored = { ...body, metadata: { ...body.metadata, resourceVersion: String(++rv) } };
      return stored;
    },
  };
  return { kube: { core } as unknown as Kube, get: () => stored };
}

describe('updateSecret optimistic concurrency', () => {
  test('a conflicting write is re-read and re-applied, keeping the other write', async () => {
    const { kube, get } = fakeKube({ a: '1' }, (n) => (n === 1 ? { b: 'from-other-writer' } : null));
    let calls = 0;
    const res = await updateSecret(kube, 'ns', 's', (cur) => {
      calls++;
      return { data: { ...cur!.data, c: 'mine' }, annotations: { x: 'y' } };
    });
    assert.equal(res.outcome, 'updated');
    assert.equal(res.attempts, 2);
    assert.equal(calls, 2);
    const data = get()!.data!;
    assert.equal(Buffer.from(data.b!, 'base64').toString(), 'from-other-writer');
    assert.equal(Buffer.from(data.c!, 'base64').toString(), 'mine');
    assert.deepEqual(get()!.metadata!.annotations, { keep: 'me', x: 'y' });
  });

  test('no change, no write', async () => {
    const { kube, get } = fakeKube({ a: '1' }, () => null);
    const before = get()!.metadata!.resourceVersion;
    const res = await updateSecret(kube, 'ns', 's', (cur) => ({ data: { ...cur!.data } }));
    assert.equal(res.outcome, 'unchanged');
    assert.equal(get()!.metadata!.resourceVersion, before);
  });

  test('creates when missing', async () => {
    const { kube, get } = fakeKube(null, () => null);
    const res = await updateSecret(kube, 'ns', 's', (cur) => (cur ? null : { data: { k: 'v' } }));
    assert.equal(res.outcome, 'created');
    assert.equal(get()!.type, 'Opaque');
  });

  test('endless conflicts end in a typed conflict error without values', async () => {
    const { kube } = fakeKube({ a: '1' }, () => ({ noise: String(Math.random()) }));
    await assert.rejects(
      updateSecret(kube, 'ns', 's', (cur) => ({ data: { ...cur!.data, c: 'top-secret-value' } })),
      (err: unknown) => err instanceof KubeConflictError && !err.message.includes('top-secret-value'),
    );
  });
});
