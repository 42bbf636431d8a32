// Prefect credentials bound to their server, against real HTTP servers on loopback: a
// credential goes only to the API it is for, a redirect is not followed with it, and a
// failure carries neither the server's body nor the redirect's target.
import assert from 'node:assert/strict';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createPrefectClient, PrefectError, prefectCredentialsFromEnv } from '../../src/prefect/client';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
}

function server(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const srv = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  return {
    seen,
    start: () => new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r())),
    api: () => `http://127.0.0.1:${(srv.address() as AddressInfo).port}/api`,
    stop: () => new Promise<void>((r) => srv.close(() => r())),
  };
}

const pool = { name: 'p', type: 'kubernetes', base_job_template: {} };
const KEY = 'pnu_credential_for_a_only_0001';

describe('Prefect client: credentials bound to their API', () => {
  const a = server((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(pool)),
  );
  const b = server((_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(pool)),
  );
  const redirecting = server((_req, res) =>
    res.writeHead(307, { location: `${b.api()}/work_pools/p` }).end(),
  );
  const failing = server((_req, res) =>
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: `echo ${KEY}` })),
  );
  before(async () => {
    for (const s of [a, b, redirecting, failing]) await s.start();
  });
  after(async () => {
    for (const s of [a, b, redirecting, failing]) await s.stop();
  });

  test('the credential goes to its API only; another API the inventory names gets none', async () => {
    const prefect = createPrefectClient(new Map([[a.api(), { apiKey: KEY }]]));
    await prefect.readPool(`${a.api()}/`, 'p');
    await prefect.readPool(b.api(), 'p');
    assert.equal(a.seen.at(-1)!.authorization, `Bearer ${KEY}`);
    assert.equal(b.seen.at(-1)!.authorization, undefined);
  });

  test('a redirect is not followed: its target receives nothing, and the failure names neither target nor key', async () => {
    const before = b.seen.length;
    const prefect = createPrefectClient(new Map([[redirecting.api(), { apiKey: KEY }]]));
    const err = await prefect.readPool(redirecting.api(), 'p').then(
      () => assert.fail('a redirect must fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof PrefectError);
    assert.equal(err.status, 307);
    assert.equal(err.retryable, false);
    assert.match(err.message, /a redirect: not followed/);
    assert.equal(b.seen.length, before, 'the redirect target was never called');
    assert.ok(!err.message.includes(b.api()), 'no redirect target in the failure');
    assert.ok(!err.message.includes(KEY));
  });

  test("a failure carries the status, not the server's body", async () => {
    const prefect = createPrefectClient(new Map([[failing.api(), { apiKey: KEY }]]));
    const err = await prefect.readPool(failing.api(), 'p').then(
      () => assert.fail('a 500 must fail'),
      (e: unknown) => e as PrefectError,
    );
    assert.equal(err.status, 500);
    assert.equal(err.retryable, true);
    assert.match(err.message, /HTTP 500$/);
    assert.ok(!err.message.includes('echo'), err.message);
    assert.ok(!err.message.includes(KEY), err.message);
  });
});

describe('Prefect credentials from the environment', () => {
  test("PREFECT_API_URL with Prefect's own variables; ROTATOR_PREFECT_CREDENTIALS for several servers", () => {
    const creds = prefectCredentialsFromEnv({
      PREFECT_API_URL: 'https://cloud.example/api/',
      PREFECT_API_KEY: 'k1',
      ROTATOR_PREFECT_CREDENTIALS: JSON.stringify({
        'http://prefect.ns.svc:4200/api': { authString: 'u:p' },
      }),
    });
    assert.deepEqual(
      [...creds],
      [
        ['https://cloud.example/api', { apiKey: 'k1' }],
        ['http://prefect.ns.svc:4200/api', { authString: 'u:p' }],
      ],
    );
  });

  test('a key without the URL it is for is refused, naming the variable to set', () => {
    assert.throws(
      () => prefectCredentialsFromEnv({ PREFECT_API_KEY: 'k1' }),
      /PREFECT_API_KEY is sent only to the Prefect API that PREFECT_API_URL names: set PREFECT_API_URL/,
    );
    assert.throws(
      () =>
        prefectCredentialsFromEnv({
          PREFECT_API_URL: 'https://x/api',
          PREFECT_API_KEY: 'a',
          PREFECT_API_AUTH_STRING: 'b',
        }),
      /both set/,
    );
  });

  test('a bad credential map is refused without quoting the value', () => {
    const secret = 'not-json-secret-value';
    assert.throws(
      () => prefectCredentialsFromEnv({ ROTATOR_PREFECT_CREDENTIALS: secret }),
      (err: Error) =>
        /ROTATOR_PREFECT_CREDENTIALS: not JSON/.test(err.message) && !err.message.includes(secret),
    );
    assert.throws(
      () =>
        prefectCredentialsFromEnv({
          ROTATOR_PREFECT_CREDENTIALS: JSON.stringify({ 'https://x/api': { apiKey: 's', authString: 't' } }),
        }),
      /exactly one non-empty "apiKey" or "authString"/,
    );
  });

  test("a sandbox's own server only when nothing is set", () => {
    const fallback = { api: 'http://127.0.0.1:4200/api', auth: { authString: 'sandbox:pw' } };
    assert.deepEqual([...prefectCredentialsFromEnv({}, fallback)], [[fallback.api, fallback.auth]]);
    assert.deepEqual(
      [...prefectCredentialsFromEnv({ PREFECT_API_URL: 'https://x/api', PREFECT_API_KEY: 'k' }, fallback)],
      [['https://x/api', { apiKey: 'k' }]],
    );
  });
});
