import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, codecFromEnv } from '../../src/temporal/codec';
import { startCodecServer } from '../../src/temporal/codec-server';

const codec = () => new AesGcmCodec(new Map([['k1', randomBytes(32)]]), 'k1');

test('payloads round-trip and the ciphertext does not contain the plaintext', async () => {
  const c = codec();
  const plain = defaultPayloadConverter.toPayload({ fingerprint: 'sha256:abc', note: 'visible-marker' });
  const [enc] = await c.encode([plain]);
  assert.equal(Buffer.from(enc!.metadata!.encoding!).toString(), 'binary/encrypted');
  assert.ok(!Buffer.from(enc!.data!).toString('latin1').includes('visible-marker'));
  const [dec] = await c.decode([enc!]);
  assert.deepEqual(defaultPayloadConverter.fromPayload(dec!), {
    fingerprint: 'sha256:abc',
    note: 'visible-marker',
  });
});

test('tampered or foreign-key payloads fail with a specific error', async () => {
  const c = codec();
  const [enc] = await c.encode([defaultPayloadConverter.toPayload('x')]);
  const tampered = { ...enc!, data: Buffer.from(enc!.data!).map((b, i) => (i === 20 ? b ^ 1 : b)) };
  await assert.rejects(() => c.decode([tampered]), /failed authentication \(key id "k1"\)/);
  await assert.rejects(() => codec().decode([enc!]), /failed authentication/);
  const other = new AesGcmCodec(new Map([['k2', randomBytes(32)]]), 'k2');
  await assert.rejects(() => other.decode([enc!]), /unknown codec key id "k1"/);
});

test('the key comes from the environment, and a bad key is refused with the fix', () => {
  assert.equal(codecFromEnv({}), undefined);
  assert.ok(codecFromEnv({ ROTATOR_CODEC_KEY: randomBytes(32).toString('base64') }));
  assert.throws(
    () => codecFromEnv({ ROTATOR_CODEC_KEY: 'c2hvcnQ=' }),
    /exactly 32 bytes \(got 5\); try: openssl rand -base64 32/,
  );
});

test('the codec server decodes for the Web UI over the remote codec protocol', async () => {
  const c = codec();
  const server = await startCodecServer(c, { port: 0, allowOrigin: 'http://127.0.0.1:8233' });
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const [enc] = await c.encode([defaultPayloadConverter.toPayload({ phase: 'paused' })]);
    const body = {
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(enc!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(enc!.data!).toString('base64'),
        },
      ],
    };
    const res = await fetch(`${url}/decode`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8233');
    const out = (await res.json()) as { payloads: Array<{ data: string }> };
    assert.deepEqual(JSON.parse(Buffer.from(out.payloads[0]!.data, 'base64').toString()), {
      phase: 'paused',
    });
    const bad = await fetch(`${url}/decode`, { method: 'POST', body: '{}' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /expected \{"payloads"/);
  } finally {
    server.close();
  }
});
