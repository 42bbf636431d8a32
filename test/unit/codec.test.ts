import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec, codecFromEnv } from '../../src/temporal/codec';
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
