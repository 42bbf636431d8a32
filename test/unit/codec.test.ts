import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow';
import { temporal } from '@temporalio/proto';
import { AesGcmCodec, codecFromEnv } from '../../src/temporal/codec';
import { dataConverter } from '../../src/temporal/data-converter';
import {
  CODEC_SERVER_MAX_BODY_BYTES,
  codecServerEndpoint,
  startCodecServer,
} from '../../src/temporal/codec-server';

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
  await assert.rejects(
    () => other.decode([enc!]),
    /codec key id "k1", which this process does not hold \(it holds "k2"\): add that key to ROTATOR_CODEC_KEYS as k1=<base64 key>/,
  );
});

test('several keys: the current one encrypts, every one decrypts what was written with it', async () => {
  const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
  const before = new AesGcmCodec(new Map([['2026-11', oldKey]]), '2026-11');
  const [written] = await before.encode([defaultPayloadConverter.toPayload({ phase: 'paused' })]);
  const after = codecFromEnv({
    ROTATOR_CODEC_KEYS: `2026-12=${newKey.toString('base64')},2026-11=${oldKey.toString('base64')}`,
    ROTATOR_CODEC_KEY_ID: '2026-12',
  })!;
  assert.deepEqual(after.keyIds, ['2026-12', '2026-11']);
  const [fresh] = await after.encode([defaultPayloadConverter.toPayload({ phase: 'resumed' })]);
  assert.equal(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString(), '2026-12');
  const decoded = (await after.decode([written!, fresh!])).map((p) => defaultPayloadConverter.fromPayload(p));
  assert.deepEqual(decoded, [{ phase: 'paused' }, { phase: 'resumed' }]);
  // The old key alone cannot read what the new one wrote: the id says which key is missing.
  await assert.rejects(
    () => before.decode([fresh!]),
    /codec key id "2026-12", which this process does not hold/,
  );
  // ROTATOR_CODEC_KEY stays the current key under ROTATOR_CODEC_KEY_ID; ROTATOR_CODEC_KEYS adds to it.
  const alias = codecFromEnv({
    ROTATOR_CODEC_KEY: newKey.toString('base64'),
    ROTATOR_CODEC_KEY_ID: '2026-12',
    ROTATOR_CODEC_KEYS: `2026-11=${oldKey.toString('base64')}`,
  })!;
  assert.deepEqual(alias.keyIds, ['2026-12', '2026-11']);
  assert.deepEqual(defaultPayloadConverter.fromPayload((await alias.decode([written!]))[0]!), {
    phase: 'paused',
  });
  assert.deepEqual(codecFromEnv({ ROTATOR_CODEC_KEY: newKey.toString('base64') })!.keyIds, ['default']);
});

test('the key variables are refused with the variable and key id named, never a key', () => {
  const k = randomBytes(32).toString('base64');
  const refused = (env: Record<string, string>, message: RegExp) => {
    assert.throws(
      () => codecFromEnv(env),
      (err: Error) => {
        assert.match(err.message, message);
        assert.ok(!err.message.includes(k), 'no key in the message');
        return true;
      },
    );
  };
  refused(
    { ROTATOR_CODEC_KEYS: `a=${k},b=${k}` },
    /ROTATOR_CODEC_KEY_ID: not set, and ROTATOR_CODEC_KEYS holds 2 keys \(a, b\)/,
  );
  refused(
    { ROTATOR_CODEC_KEYS: `a=${k}`, ROTATOR_CODEC_KEY_ID: 'c' },
    /ROTATOR_CODEC_KEY_ID: "c" is not among the keys \(a\)/,
  );
  refused({ ROTATOR_CODEC_KEYS: `a=${k},a=${k}`, ROTATOR_CODEC_KEY_ID: 'a' }, /key id "a" appears twice/);
  // A bare key, with or without "+" and "/" (its "=" padding is no id separator).
  for (const bare of [k, Buffer.alloc(32, 7).toString('base64'), Buffer.alloc(32, 0xfb).toString('base64')])
    assert.throws(
      () => codecFromEnv({ ROTATOR_CODEC_KEYS: bare }),
      (err: Error) =>
        /ROTATOR_CODEC_KEYS: each entry is <id>=<base64 of 32 bytes>.*entry 1 is not/.test(err.message) &&
        !err.message.includes(bare.slice(0, 20)),
    );
  refused(
    { ROTATOR_CODEC_KEYS: `a=c2hvcnQ=` },
    /ROTATOR_CODEC_KEYS: key "a" must be base64 of exactly 32 bytes \(got 5\)/,
  );
  refused(
    { ROTATOR_CODEC_KEY: k, ROTATOR_CODEC_KEYS: `default=${randomBytes(32).toString('base64')}` },
    /ROTATOR_CODEC_KEY and ROTATOR_CODEC_KEYS give key id "default" two different keys/,
  );
  // One key in the list needs no id to be named.
  assert.deepEqual(codecFromEnv({ ROTATOR_CODEC_KEYS: `only=${k}` })!.keyIds, ['only']);
});

test("a failure's message and stack trace reach the server only as ciphertext, and read back through the codec", async () => {
  const c = codec();
  const loaded = loadDataConverter(dataConverter(c));
  const err = ApplicationFailure.nonRetryable('Secret dashi-serving/visible-marker refused', 'KubeForbidden');
  const failure = loaded.failureConverter.errorToFailure(err, loaded.payloadConverter);
  assert.equal(failure.message, 'Encoded failure');
  assert.equal(failure.stackTrace, '');
  const [wire] = await c.encode([failure.encodedAttributes!]);
  const raw = JSON.stringify(
    temporal.api.failure.v1.Failure.toObject(
      temporal.api.failure.v1.Failure.fromObject({ ...failure, encodedAttributes: wire }),
    ),
  );
  assert.ok(!raw.includes('visible-marker'), 'the message is not in what the server stores');
  assert.ok(!Buffer.from(wire!.data!).toString('latin1').includes('visible-marker'));
  const [back] = await c.decode([wire!]);
  const read = loaded.failureConverter.failureToError(
    { ...failure, encodedAttributes: back },
    loaded.payloadConverter,
  );
  assert.equal(read.message, 'Secret dashi-serving/visible-marker refused');
  assert.equal((read as ApplicationFailure).type, 'KubeForbidden');
});

test('the key comes from the environment, and a bad key is refused with the fix', () => {
  assert.equal(codecFromEnv({}), undefined);
  assert.ok(codecFromEnv({ ROTATOR_CODEC_KEY: randomBytes(32).toString('base64') }));
  assert.throws(
    () => codecFromEnv({ ROTATOR_CODEC_KEY: 'c2hvcnQ=' }),
    /exactly 32 bytes \(got 5\); try: openssl rand -base64 32/,
  );
});

const UI = 'http://127.0.0.1:8233';
const TOKEN = randomBytes(24).toString('base64url');

/** One request over a raw socket-level client (node:http), so Origin is sent exactly as a browser would. */
function send(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'POST', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    // A server that answers before reading the whole body may close while we still write.
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

async function withServer(
  fn: (s: { base: string; endpoint: string; c: AesGcmCodec; body: string }) => Promise<void>,
  maxBodyBytes?: number,
): Promise<void> {
  const c = codec();
  const server = await startCodecServer(c, { port: 0, allowOrigins: [UI], token: TOKEN, maxBodyBytes });
  try {
    assert.equal((server.address() as AddressInfo).address, '127.0.0.1', 'loopback unless told otherwise');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    assert.equal(codecServerEndpoint(server, TOKEN), `${base}/${TOKEN}`);
    const [enc] = await c.encode([defaultPayloadConverter.toPayload({ phase: 'paused' })]);
    const body = JSON.stringify({
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(enc!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(enc!.data!).toString('base64'),
        },
      ],
    });
    await fn({ base, endpoint: `${base}/${TOKEN}`, c, body });
  } finally {
    server.close();
  }
}

const decoded = (body: string) =>
  JSON.parse(
    Buffer.from(
      (JSON.parse(body) as { payloads: Array<{ data: string }> }).payloads[0]!.data,
      'base64',
    ).toString(),
  ) as unknown;

test('the codec server decodes for the Web UI over the remote codec protocol, at <endpoint>/decode', () =>
  withServer(async ({ endpoint, body }) => {
    // Exactly what the Web UI sends: endpoint + '/decode', JSON, X-Namespace, its Origin.
    const headers = { 'content-type': 'application/json', 'x-namespace': 'default', origin: UI };
    const res = await send(`${endpoint}/decode`, { headers, body });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['access-control-allow-origin'], UI);
    assert.deepEqual(decoded(res.body), { phase: 'paused' });
    // Encode too (the Start Workflow form's input).
    const enc = await send(`${endpoint}/encode`, {
      headers,
      body: JSON.stringify({ payloads: [{ metadata: { encoding: 'anNvbi9wbGFpbg==' }, data: 'e30=' }] }),
    });
    assert.equal(enc.status, 200, enc.body);
    // Not a browser (the CLI): no Origin, the token decides.
    assert.equal((await send(`${endpoint}/decode`, { body })).status, 200);
    const bad = await send(`${endpoint}/decode`, { body: '{}' });
    assert.equal(bad.status, 400);
    assert.match((JSON.parse(bad.body) as { error: string }).error, /expected \{"payloads"/);
    assert.equal((await send(`${endpoint}/other`, { body })).status, 404);
  }));

test("the codec server answers only the Web UI's origin: other pages get 403, preflight included", () =>
  withServer(async ({ endpoint, body }) => {
    const preflight = (origin: string) =>
      send(`${endpoint}/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type,x-namespace',
        },
      });
    const ok = await preflight(UI);
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-origin'], UI);
    assert.match(String(ok.headers['access-control-allow-headers']), /content-type.*x-namespace/);
    for (const origin of ['http://evil.example', 'http://127.0.0.1:8234', 'http://localhost:8233', 'null']) {
      const p = await preflight(origin);
      assert.equal(p.status, 403, origin);
      assert.equal(p.headers['access-control-allow-origin'], undefined, origin);
      // Even a "simple" request (no preflight: text/plain) is refused, not just unreadable.
      const r = await send(`${endpoint}/decode`, { headers: { origin, 'content-type': 'text/plain' }, body });
      assert.equal(r.status, 403, origin);
      assert.doesNotMatch(r.body, /paused/);
    }
  }));

test('the codec server needs its token: in the endpoint path (the Web UI) or Authorization: Bearer (the CLI)', () =>
  withServer(async ({ base, body }) => {
    for (const url of [`${base}/decode`, `${base}/${TOKEN.slice(1)}/decode`, `${base}/${TOKEN}x/decode`]) {
      const r = await send(url, { headers: { origin: UI }, body });
      assert.equal(r.status, 401, url);
      assert.doesNotMatch(r.body, /paused/);
      assert.ok(!r.body.includes(TOKEN), 'the answer never shows the token');
    }
    assert.equal(
      (await send(`${base}/decode`, { headers: { authorization: 'Bearer nope' }, body })).status,
      401,
    );
    // `temporal --codec-endpoint <base> --codec-auth "Bearer <token>"`.
    const cli = await send(`${base}/decode`, { headers: { authorization: `Bearer ${TOKEN}` }, body });
    assert.equal(cli.status, 200, cli.body);
    assert.deepEqual(decoded(cli.body), { phase: 'paused' });
    assert.throws(
      () => startCodecServer(codec(), { port: 0, allowOrigins: [UI], token: 'short' }),
      /at least 16 characters/,
    );
  }));

test('the codec server reads at most 1 MiB of body: 413 beyond, announced or streamed', () =>
  withServer(async ({ endpoint, body: sample }) => {
    const big = Buffer.alloc(CODEC_SERVER_MAX_BODY_BYTES + 1, 'a');
    const announced = await send(`${endpoint}/decode`, {
      headers: { 'content-type': 'application/json' },
      body: big,
    });
    assert.equal(announced.status, 413);
    assert.match(announced.body, /larger than 1048576 bytes/);
    // Chunked (no Content-Length): cut off once the bound is passed.
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${endpoint}/decode`, { method: 'POST' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      for (let i = 0; i < 3; i++) req.write(Buffer.alloc(512 * 1024, 'a'));
      req.end();
    }).catch((err: Error) => err.message);
    assert.equal(streamed, 413);
    // A smaller bound when asked; a body within it is read as usual.
    await withServer(
      async ({ endpoint: small, body }) => {
        assert.equal((await send(`${small}/decode`, { body: body + ' '.repeat(64) })).status, 413);
        assert.equal((await send(`${small}/decode`, { body })).status, 200);
      },
      Buffer.byteLength(sample) + 10,
    ); // the same payload: the same size
  }));
