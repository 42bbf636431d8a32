import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  AdminError,
  createAdminClient,
  decryptMadmin,
  encryptMadmin,
  MadminAlgorithm,
  parseServerError,
  takenAccessKeyHolder,
  type AdminClient,
  type Dialect,
} from '../../src/rustfs';

const ROOT = { accessKey: 'rootadmin', secretKey: 'root-secret-key-must-never-leak-0123456789' };

interface Seen {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Buffer;
}

type Reply = { status?: number; body?: string | Buffer; contentType?: string } | Error;

/** A fake server: records requests and answers from a script, one reply per request. */
function fakeFetch(replies: Reply[] | ((req: Seen) => Reply | Promise<Reply>)): {
  fetch: typeof fetch;
  seen: Seen[];
} {
  const seen: Seen[] = [];
  const queue = Array.isArray(replies) ? [...replies] : undefined;
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const body = init?.body ? Buffer.from(init.body as Uint8Array) : Buffer.alloc(0);
    const req: Seen = {
      method: init?.method ?? 'GET',
      url: new URL(String(input)),
      headers: Object.fromEntries(Object.entries((init?.headers ?? {}) as Record<string, string>)),
      body,
    };
    seen.push(req);
    const r = queue ? queue.shift() : await (replies as (req: Seen) => Reply | Promise<Reply>)(req);
    if (!r) throw new Error('fake server: no reply scripted');
    if (r instanceof Error) throw r;
    return new Response(r.body === undefined ? null : new Uint8Array(Buffer.from(r.body)), {
      status: r.status ?? 200,
      headers: { 'content-type': r.contentType ?? 'application/json' },
    });
  };
  return { fetch: f as typeof fetch, seen };
}

function client(
  dialect: Dialect,
  f: typeof fetch,
  extra: { timeoutMs?: number; endpoint?: string } = {},
): AdminClient {
  return createAdminClient({
    endpoint: 'http://store.test:9000/',
    credentials: ROOT,
    dialect,
    fetch: f,
    // PBKDF2 keeps these tests fast; the Argon2id ids are covered by the crypto tests.
    madminAlgorithm: MadminAlgorithm.Pbkdf2AesGcm,
    ...extra,
  });
}

async function sealed(obj: unknown): Promise<Buffer> {
  return encryptMadmin(ROOT.secretKey, Buffer.from(JSON.stringify(obj)), {
    algorithm: MadminAlgorithm.Pbkdf2AesGcm,
  });
}

const PREFIX: Record<Dialect, string> = { madmin: '/minio/admin/v3', rustfs: '/rustfs/admin/v3' };

async function bodyJson(dialect: Dialect, req: Seen): Promise<unknown> {
  const plain = dialect === 'madmin' ? (await decryptMadmin(ROOT.secretKey, req.body)).plaintext : req.body;
  return JSON.parse(plain.toString('utf8'));
}

for (const dialect of ['madmin', 'rustfs'] as const) {
  describe(`${dialect} dialect: request shapes`, () => {
    const p = PREFIX[dialect];

    test('every request is SigV4-signed for s3/us-east-1 with x-amz-content-sha256', async () => {
      const { fetch, seen } = fakeFetch([{ body: '{}' }]);
      await client(dialect, fetch).userInfo('alice');
      const h = seen[0]!.headers;
      assert.match(
        h['authorization'] ?? '',
        /^AWS4-HMAC-SHA256 Credential=rootadmin\/\d{8}\/us-east-1\/s3\/aws4_request, /,
      );
      assert.match(h['authorization'] ?? '', /SignedHeaders=[^,]*x-amz-content-sha256/);
      assert.equal(
        h['x-amz-content-sha256'],
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      );
      assert.ok(h['x-amz-date']);
    });

    test('addUser: PUT add-user?accessKey, body {secretKey,status}', async () => {
      const { fetch, seen } = fakeFetch([{ body: '' }]);
      await client(dialect, fetch).addUser('alice', 'alice-secret-0123456789');
      const r = seen[0]!;
      assert.equal(r.method, 'PUT');
      assert.equal(r.url.pathname, `${p}/add-user`);
      assert.equal(r.url.searchParams.get('accessKey'), 'alice');
      if (dialect === 'madmin') {
        assert.ok(!r.body.toString('latin1').includes('alice-secret'), 'madmin body must be sealed');
      } else {
        assert.equal(r.headers['content-type'], 'application/json');
      }
      assert.deepEqual(await bodyJson(dialect, r), {
        secretKey: 'alice-secret-0123456789',
        status: 'enabled',
      });
    });

    test('removeUser / setUserStatus / attachPolicy / removeCannedPolicy: method, route, query', async () => {
      const { fetch, seen } = fakeFetch([{}, {}, {}, {}]);
      const c = client(dialect, fetch);
      await c.removeUser('alice');
      await c.setUserStatus('alice', 'disabled');
      await c.attachPolicy('alice', 'pol-rw');
      await c.removeCannedPolicy('pol-rw');
      const got = seen.map((r) => [r.method, r.url.pathname, Object.fromEntries(r.url.searchParams)]);
      assert.deepEqual(got, [
        ['DELETE', `${p}/remove-user`, { accessKey: 'alice' }],
        ['PUT', `${p}/set-user-status`, { accessKey: 'alice', status: 'disabled' }],
        [
          'PUT',
          `${p}/set-user-or-group-policy`,
          { policyName: 'pol-rw', userOrGroup: 'alice', isGroup: 'false' },
        ],
        ['DELETE', `${p}/remove-canned-policy`, { name: 'pol-rw' }],
      ]);
    });

    test('addCannedPolicy: the raw policy JSON, never sealed', async () => {
      const { fetch, seen } = fakeFetch([{}]);
      const doc = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::b/*'] }],
      };
      await client(dialect, fetch).addCannedPolicy('pol-ro', doc);
      const r = seen[0]!;
      assert.equal(r.method, 'PUT');
      assert.equal(r.url.pathname, `${p}/add-canned-policy`);
      assert.equal(r.url.searchParams.get('name'), 'pol-ro');
      assert.deepEqual(JSON.parse(r.body.toString('utf8')), doc);
    });

    test('listUsers decodes the map (sealed on madmin)', async () => {
      const users = {
        alice: { status: 'enabled', policyName: 'pol-rw' },
        bob: { status: 'disabled' },
      };
      const { fetch, seen } = fakeFetch([
        { body: dialect === 'madmin' ? await sealed(users) : JSON.stringify(users) },
      ]);
      assert.deepEqual(await client(dialect, fetch).listUsers(), {
        alice: { status: 'enabled', policyName: 'pol-rw' },
        bob: { status: 'disabled' },
      });
      assert.equal(seen[0]!.method, 'GET');
      assert.equal(seen[0]!.url.pathname, `${p}/list-users`);
    });

    test('userInfo accepts a plain or a sealed reply', async () => {
      const info = {
        status: 'enabled',
        policyName: 'pol-rw',
        memberOf: ['g1'],
        updatedAt: '2025-01-01T00:00:00Z',
      };
      const replies: Reply[] = [{ body: JSON.stringify(info) }];
      if (dialect === 'madmin') replies.push({ body: await sealed(info) });
      const { fetch } = fakeFetch(replies);
      const c = client(dialect, fetch);
      for (let i = 0; i < replies.length; i++) {
        assert.deepEqual(await c.userInfo('alice'), {
          status: 'enabled',
          policyName: 'pol-rw',
          memberOf: ['g1'],
        });
      }
    });

    test('canned policies: list and info (plain and wrapped info replies)', async () => {
      const doc = { Version: '2012-10-17', Statement: [] };
      const { fetch, seen } = fakeFetch([
        { body: JSON.stringify({ readwrite: doc, 'pol-ro': doc }) },
        { body: JSON.stringify(doc) },
        { body: JSON.stringify({ PolicyName: 'pol-ro', Policy: doc }) },
        { body: JSON.stringify({ Version: 1, Policy: doc, CreateDate: '2025-01-01T00:00:00Z' }) },
      ]);
      const c = client(dialect, fetch);
      assert.deepEqual(Object.keys(await c.listCannedPolicies()), ['readwrite', 'pol-ro']);
      assert.deepEqual(await c.infoCannedPolicy('pol-ro'), doc);
      assert.deepEqual(await c.infoCannedPolicy('pol-ro'), doc);
      assert.deepEqual(await c.infoCannedPolicy('pol-ro'), doc);
      assert.equal(seen[1]!.url.pathname, `${p}/info-canned-policy`);
      assert.equal(seen[1]!.url.searchParams.get('name'), 'pol-ro');
    });

    test('addServiceAccount with both keys given: body fields; the reply is not opened', async () => {
      // Sealed under a key the client does not have: opening it could only fail.
      const unopenable = await encryptMadmin('another-secret-key', Buffer.from('{"credentials":{}}'), {
        algorithm: MadminAlgorithm.Argon2idAesGcm,
      });
      const { fetch, seen } = fakeFetch([{ body: unopenable }]);
      const policy = { Version: '2012-10-17', Statement: [] };
      const creds = await client(dialect, fetch).addServiceAccount({
        parentUser: 'alice',
        accessKey: 'SVCACCESSKEY',
        secretKey: 'svc-secret',
        policy,
        name: 'zone-a',
        description: 'rotation 1',
        expiration: new Date('2030-01-01T00:00:00Z'),
      });
      assert.deepEqual(creds, { accessKey: 'SVCACCESSKEY', secretKey: 'svc-secret' });
      const r = seen[0]!;
      assert.equal(r.method, 'PUT');
      assert.equal(r.url.pathname, `${p}/add-service-account`);
      assert.deepEqual(await bodyJson(dialect, r), {
        targetUser: 'alice',
        accessKey: 'SVCACCESSKEY',
        secretKey: 'svc-secret',
        // RustFS alpha.85 takes the session policy only as a JSON string.
        policy: dialect === 'rustfs' ? JSON.stringify(policy) : policy,
        name: 'zone-a',
        description: 'rotation 1',
        expiration: '2030-01-01T00:00:00.000Z',
      });
    });

    test('addServiceAccount with generated keys: the credentials come from the (sealed) reply', async () => {
      const reply = {
        credentials: {
          accessKey: 'SVCGENERATED',
          secretKey: 'generated-secret',
          expiration: '1970-01-01T00:00:00Z',
        },
      };
      const { fetch, seen } = fakeFetch([
        { body: dialect === 'madmin' ? await sealed(reply) : JSON.stringify(reply) },
      ]);
      const creds = await client(dialect, fetch).addServiceAccount({ parentUser: 'alice' });
      if (dialect === 'madmin') {
        assert.deepEqual(creds, { accessKey: 'SVCGENERATED', secretKey: 'generated-secret' });
        assert.deepEqual(await bodyJson(dialect, seen[0]!), { targetUser: 'alice' });
      } else {
        // alpha.85 requires both keys, a name and an expiration: the client generates the keys.
        assert.deepEqual(await bodyJson(dialect, seen[0]!), {
          targetUser: 'alice',
          ...creds,
          name: 'rotator',
          expiration: '9999-12-31T23:59:59Z',
        });
        assert.notEqual(creds.accessKey, 'SVCGENERATED');
      }
    });

    // The rustfs dialect always sends keys, so it never reads them from the reply.
    if (dialect === 'madmin') {
      test('addServiceAccount with generated keys: a reply that is not authentic is an error', async () => {
        const reply = Buffer.from(JSON.stringify({ credentials: { accessKey: 'A', secretKey: 'B' } }));
        const body = await encryptMadmin('another-secret-key', reply, {
          algorithm: MadminAlgorithm.Pbkdf2AesGcm,
        });
        const { fetch } = fakeFetch([{ body }]);
        await assert.rejects(client(dialect, fetch).addServiceAccount({ parentUser: 'alice' }), {
          code: 'DecryptionFailed',
        });
      });
    }

    test('updateServiceAccount: POST with newSecretKey/newStatus/newPolicy', async () => {
      const { fetch, seen } = fakeFetch([{ status: 204 }]);
      await client(dialect, fetch).updateServiceAccount('SVC1', { secretKey: 'new-secret', status: 'off' });
      const r = seen[0]!;
      assert.equal(r.method, 'POST');
      assert.equal(r.url.pathname, `${p}/update-service-account`);
      assert.equal(r.url.searchParams.get('accessKey'), 'SVC1');
      assert.deepEqual(await bodyJson(dialect, r), {
        newSecretKey: 'new-secret',
        newStatus: 'off',
        // alpha.85 requires the field; null keeps the account's expiration.
        ...(dialect === 'rustfs' ? { newExpiration: null } : {}),
      });
    });

    test('listServiceAccounts / infoServiceAccount / deleteServiceAccount', async () => {
      const list = {
        accounts: [
          { parentUser: 'alice', accountStatus: 'on', accessKey: 'SVC1', name: 'n', impliedPolicy: true },
        ],
      };
      const info = {
        parentUser: 'alice',
        accountStatus: 'off',
        impliedPolicy: false,
        policy: '{"Version":"2012-10-17"}',
      };
      const enc = async (o: unknown) => (dialect === 'madmin' ? await sealed(o) : JSON.stringify(o));
      const { fetch, seen } = fakeFetch([
        { body: await enc(list) },
        { body: await enc(info) },
        { status: 204 },
      ]);
      const c = client(dialect, fetch);
      assert.deepEqual(await c.listServiceAccounts('alice'), [
        { accessKey: 'SVC1', parentUser: 'alice', accountStatus: 'on', name: 'n' },
      ]);
      assert.deepEqual(await c.infoServiceAccount('SVC1'), info);
      await c.deleteServiceAccount('SVC1');
      assert.deepEqual(
        seen.map((r) => [r.method, r.url.pathname, Object.fromEntries(r.url.searchParams)]),
        [
          ['GET', `${p}/list-service-accounts`, { user: 'alice' }],
          ['GET', `${p}/info-service-account`, { accessKey: 'SVC1' }],
          ['DELETE', `${p}/delete-service-account`, { accessKey: 'SVC1' }],
        ],
      );
    });

    test('serverInfo: mode and first server version', async () => {
      const raw = { mode: 'online', servers: [{ endpoint: 'x', version: '2025-10-15T17:29:55Z' }] };
      const { fetch, seen } = fakeFetch([{ body: JSON.stringify(raw) }]);
      assert.deepEqual(await client(dialect, fetch).serverInfo(), {
        mode: 'online',
        version: '2025-10-15T17:29:55Z',
        raw,
      });
      assert.equal(seen[0]!.url.pathname, `${p}/info`);
    });

    test('live/ready: unauthenticated health paths, false instead of throwing', async () => {
      const { fetch, seen } = fakeFetch([{ status: 200 }, { status: 503 }, new TypeError('fetch failed')]);
      const c = client(dialect, fetch);
      assert.equal(await c.live(), true);
      assert.equal(await c.ready(), false);
      assert.equal(await c.ready(), false);
      const paths = seen.map((r) => r.url.pathname);
      assert.deepEqual(
        paths,
        dialect === 'madmin'
          ? ['/minio/health/live', '/minio/health/ready', '/minio/health/ready']
          : ['/health', '/health/ready', '/health/ready'],
      );
      assert.equal(seen[0]!.headers['authorization'], undefined);
    });
  });
}

describe('rustfs dialect: route fallback', () => {
  const notImplemented = {
    status: 501,
    contentType: 'application/xml',
    body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented</Message></Error>',
  };

  test('add-service-account falls back to add-service-accounts on NotImplemented', async () => {
    const { fetch, seen } = fakeFetch([
      notImplemented,
      { body: JSON.stringify({ credentials: { accessKey: 'A', secretKey: 'B' } }) },
    ]);
    // Each test its own server: clients of one endpoint share what the first learned.
    const endpoint = 'http://fallback-add.test:9000';
    const creds = await client('rustfs', fetch, { endpoint }).addServiceAccount({ parentUser: 'alice' });
    assert.deepEqual(
      seen.map((r) => r.url.pathname),
      ['/rustfs/admin/v3/add-service-account', '/rustfs/admin/v3/add-service-accounts'],
    );
    assert.deepEqual(JSON.parse(seen[1]!.body.toString()), JSON.parse(seen[0]!.body.toString()));
    assert.equal(JSON.parse(seen[1]!.body.toString()).accessKey, creds.accessKey);
  });

  test('delete-service-account falls back to the plural route too', async () => {
    const endpoint = 'http://fallback-delete.test:9000';
    const { fetch, seen } = fakeFetch([notImplemented, { status: 200 }, { status: 200 }]);
    await client('rustfs', fetch, { endpoint }).deleteServiceAccount('SVC');
    assert.deepEqual(
      seen.map((r) => r.url.pathname),
      ['/rustfs/admin/v3/delete-service-account', '/rustfs/admin/v3/delete-service-accounts'],
    );
    // A new client of the same server (one per activity) goes to the plural route at once.
    await client('rustfs', fetch, { endpoint }).deleteServiceAccount('SVC2');
    assert.equal(seen[2]!.url.pathname, '/rustfs/admin/v3/delete-service-accounts');
  });

  test('other errors do not trigger the fallback', async () => {
    const { fetch, seen } = fakeFetch([
      {
        status: 404,
        body: JSON.stringify({
          Code: 'XMinioAdminNoSuchUser',
          Message: 'The specified user does not exist.',
        }),
      },
    ]);
    await assert.rejects(client('rustfs', fetch).addServiceAccount({ parentUser: 'ghost' }), {
      code: 'NotFound',
    });
    assert.equal(seen.length, 1);
  });

  test('madmin never tries the plural route', async () => {
    const { fetch, seen } = fakeFetch([notImplemented]);
    await assert.rejects(client('madmin', fetch).addServiceAccount({}), {
      code: 'NotImplemented',
      retryable: false,
    });
    assert.equal(seen.length, 1);
  });
});

describe('error mapping', () => {
  const cases: Array<[string, Reply, string, boolean]> = [
    [
      'InvalidAccessKeyId',
      {
        status: 403,
        body: JSON.stringify({
          Code: 'InvalidAccessKeyId',
          Message: 'The Access Key Id you provided does not exist in our records.',
        }),
      },
      'AuthenticationFailed',
      false,
    ],
    [
      'SignatureDoesNotMatch (XML)',
      {
        status: 403,
        body: '<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message></Error>',
      },
      'AuthenticationFailed',
      false,
    ],
    [
      'AccessDenied',
      { status: 403, body: JSON.stringify({ Code: 'AccessDenied', Message: 'Access Denied.' }) },
      'AccessDenied',
      false,
    ],
    [
      'XMinioAdminNoSuchUser',
      {
        status: 404,
        body: JSON.stringify({
          Code: 'XMinioAdminNoSuchUser',
          Message: 'The specified user does not exist.',
        }),
      },
      'NotFound',
      false,
    ],
    [
      'XMinioAdminNoSuchPolicy',
      {
        status: 404,
        body: JSON.stringify({
          Code: 'XMinioAdminNoSuchPolicy',
          Message: 'The canned policy does not exist.',
        }),
      },
      'NotFound',
      false,
    ],
    [
      'service account not found (MinIO uses a 404 XMinioInvalidIAMCredentials)',
      {
        status: 404,
        body: JSON.stringify({
          Code: 'XMinioInvalidIAMCredentials',
          Message: 'The specified service account is not found',
        }),
      },
      'NotFound',
      false,
    ],
    [
      'already exists (by message)',
      {
        status: 400,
        body: JSON.stringify({ Code: 'XMinioAdminInvalidArgument', Message: 'access key already exists' }),
      },
      'AlreadyExists',
      false,
    ],
    ['409', { status: 409, body: '' }, 'AlreadyExists', false],
    [
      'XMinioServerNotInitialized',
      {
        status: 503,
        body: JSON.stringify({
          Code: 'XMinioServerNotInitialized',
          Message: 'Server not initialized, please try again.',
        }),
      },
      'NotReady',
      true,
    ],
    [
      'bad JSON policy',
      { status: 400, body: JSON.stringify({ Code: 'XMinioMalformedIAMPolicy', Message: 'invalid policy' }) },
      'BadRequest',
      false,
    ],
    [
      'RustFS NoSuchResource (XML)',
      {
        status: 404,
        body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchResource</Code><Message>user does not exist: alice</Message></Error>',
      },
      'NotFound',
      false,
    ],
    [
      'RustFS duplicate access key',
      {
        status: 400,
        body: '<Error><Code>InvalidArgument</Code><Message>access key is already in use</Message></Error>',
      },
      'AlreadyExists',
      false,
    ],
    [
      'older RustFS duplicate access key (a 500 InternalError)',
      {
        status: 500,
        body: '<Error><Code>InternalError</Code><Message>create service account failed, e: AccessKeyAlreadyExists</Message></Error>',
      },
      'AlreadyExists',
      false,
    ],
    [
      'RustFS missing policy (a 500 InternalError)',
      {
        status: 500,
        body: '<Error><Code>InternalError</Code><Message>policy does not exist</Message></Error>',
      },
      'NotFound',
      false,
    ],
    [
      'RustFS IAM still loading',
      {
        status: 500,
        body: '<Error><Code>InternalError</Code><Message>iam sys not initialized</Message></Error>',
      },
      'NotReady',
      true,
    ],
    ['500', { status: 500, body: 'oops' }, 'ServerError', true],
    [
      'connection refused',
      Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }),
      'Unavailable',
      true,
    ],
  ];
  for (const [name, reply, code, retryable] of cases) {
    test(`${name} → ${code}${retryable ? ' (retryable)' : ''}`, async () => {
      const { fetch } = fakeFetch([reply]);
      const err = await client('rustfs', fetch)
        .userInfo('alice')
        .then(
          () => assert.fail('expected an error'),
          (e: unknown) => e,
        );
      assert.ok(err instanceof AdminError, String(err));
      assert.equal(err.code, code);
      assert.equal(err.retryable, retryable);
      assert.equal(err.operation, 'userInfo');
      assert.equal(err.name, code);
      assert.ok(err.message.startsWith('userInfo (user alice): '), err.message);
    });
  }

  describe('takenAccessKeyHolder: who holds the key add-service-account refused', () => {
    const refusal = async (reply: Reply) => {
      const { fetch } = fakeFetch([reply]);
      return client('madmin', fetch)
        .addServiceAccount({ parentUser: 'alice', accessKey: 'SVCKEY', secretKey: 'svc-secret-0123456789' })
        .then(
          () => assert.fail('expected an error'),
          (e: unknown) => e,
        );
    };
    const minio = (message: string): Reply => ({
      status: 400,
      body: JSON.stringify({
        Code: 'XMinioIAMServiceAccountNotAllowed',
        Message: `Specified service account action is not allowed: ${message}`,
      }),
    });
    const cases: Array<[string, Reply, ReturnType<typeof takenAccessKeyHolder>]> = [
      [
        'MinIO, the requested parent',
        minio('the service account access key already taken'),
        'requested-parent',
      ],
      [
        'MinIO, another user',
        minio('the service account access key is taken by another user'),
        'another-identity',
      ],
      [
        'MinIO, a parent that is itself a service account (not a taken key)',
        minio('unable to create a service account for another service account'),
        undefined,
      ],
      [
        'RustFS',
        {
          status: 400,
          body: '<Error><Code>InvalidArgument</Code><Message>access key is already in use</Message></Error>',
        },
        'unknown',
      ],
      [
        'an unknown parent user',
        {
          status: 404,
          body: JSON.stringify({
            Code: 'XMinioAdminNoSuchUser',
            Message: 'The specified user does not exist.',
          }),
        },
        undefined,
      ],
    ];
    for (const [name, reply, holder] of cases) {
      test(`${name} → ${String(holder)}`, async () => {
        assert.equal(takenAccessKeyHolder(await refusal(reply)), holder);
      });
    }
    test('not an admin error → undefined', () => {
      assert.equal(takenAccessKeyHolder(new Error('already taken')), undefined);
    });
  });

  test('a timeout is Unavailable and retryable', async () => {
    const slow = ((_: unknown, init?: RequestInit) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal!.reason));
      })) as typeof fetch;
    // AbortSignal.timeout does not keep the process alive on its own.
    const keepAlive = setTimeout(() => undefined, 5_000);
    try {
      await assert.rejects(client('madmin', slow, { timeoutMs: 50 }).listCannedPolicies(), {
        code: 'Unavailable',
        retryable: true,
      });
    } finally {
      clearTimeout(keepAlive);
    }
  });

  test('no secret key, signature or decrypted body in any error message', async () => {
    const userSecret = 'user-secret-that-must-not-leak-0123456789';
    // A server echoing everything back, including the Authorization header.
    const { fetch } = fakeFetch((req) => ({
      status: 400,
      body: JSON.stringify({
        Code: 'XMinioAdminInvalidArgument',
        Message: `bad ${req.headers['authorization']} ${ROOT.secretKey} ${userSecret}`,
      }),
    }));
    const err = await client('madmin', fetch)
      .addUser('alice', userSecret)
      .then(
        () => assert.fail('expected an error'),
        (e: Error) => e,
      );
    const everything = `${err.message} ${JSON.stringify(err)} ${String(err.stack)}`;
    assert.ok(!everything.includes(userSecret), 'user secret leaked');
    assert.ok(!everything.includes(ROOT.secretKey), 'root secret leaked');
    assert.ok(!/Signature=[0-9a-f]{64}/.test(everything), 'signature leaked');
  });

  test('a sealed reply that does not authenticate → DecryptionFailed, no plaintext', async () => {
    const ct = await sealed({ alice: { status: 'enabled', secretKey: 'LEAKME' } });
    ct[ct.length - 1]! ^= 1;
    const { fetch } = fakeFetch([{ body: ct }]);
    const err = await client('madmin', fetch)
      .listUsers()
      .then(
        () => assert.fail('expected an error'),
        (e: Error) => e,
      );
    assert.ok(err instanceof AdminError);
    assert.equal(err.code, 'DecryptionFailed');
    assert.ok(!err.message.includes('LEAKME'));
  });

  test('a reply sealed with another key → DecryptionFailed', async () => {
    const other = await encryptMadmin('another-key', Buffer.from('{}'), {
      algorithm: MadminAlgorithm.Pbkdf2AesGcm,
    });
    const { fetch } = fakeFetch([{ body: other }]);
    await assert.rejects(client('madmin', fetch).listUsers(), { code: 'DecryptionFailed' });
  });

  test('a reply that is neither JSON nor sealed → ProtocolError without the body', async () => {
    const { fetch } = fakeFetch([{ body: 'secretKey=abc not json' }]);
    const err = await client('rustfs', fetch)
      .listUsers()
      .then(
        () => assert.fail('expected an error'),
        (e: Error) => e,
      );
    assert.equal((err as AdminError).code, 'ProtocolError');
    assert.ok(!err.message.includes('secretKey=abc'));
  });

  test('parseServerError reads MinIO JSON and S3/RustFS XML', () => {
    assert.deepEqual(parseServerError(Buffer.from('{"Code":"X","Message":"m"}')), {
      code: 'X',
      message: 'm',
    });
    assert.deepEqual(
      parseServerError(Buffer.from('<Error><Code>Y</Code><Message>a &amp; b</Message></Error>')),
      {
        code: 'Y',
        message: 'a & b',
      },
    );
    assert.deepEqual(parseServerError(Buffer.from('')), {});
  });
});
