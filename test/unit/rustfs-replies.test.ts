/**
 * Every RustFS reply shape the admin client maps, replayed from what real servers answered
 * (test/fixtures/rustfs/<tag>/<dialect>/<name>.json, captured by test/fixtures/rustfs/capture.ts
 * from the binaries in ../shared/rustfs and ../shared/rustfs/next). Shapes no request can provoke
 * on a healthy server are covered from the release source where named.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  AdminError,
  createAdminClient,
  takenAccessKeyHolder,
  type AdminApi,
  type AdminClient,
  type AdminErrorCode,
} from '../../src/rustfs';
import { FIXTURE_ROOT } from '../fixtures/rustfs/capture';

const DIR = path.join(__dirname, '..', 'fixtures', 'rustfs');
const TAGS = ['1.0.0-alpha.85', '1.0.0-beta.7', '1.0.0-rc.3'] as const;
type Tag = (typeof TAGS)[number];

interface Fixture {
  request: { method: string; path: string };
  status: number;
  contentType: string | null;
  body?: string;
  bodyBase64?: string;
}

function fixture(tag: Tag, dialect: 'rustfs' | 'madmin', name: string): Fixture {
  return JSON.parse(fs.readFileSync(path.join(DIR, tag, dialect, `${name}.json`), 'utf8')) as Fixture;
}

function reply(f: Fixture): Response {
  const body = f.bodyBase64 !== undefined ? Buffer.from(f.bodyBase64, 'base64') : Buffer.from(f.body ?? '');
  return new Response(f.status === 204 || body.length === 0 ? null : new Uint8Array(body), {
    status: f.status,
    headers: f.contentType ? { 'content-type': f.contentType } : {},
  });
}

let servers = 0;

/** A client whose every request is answered by `pick(method, path)`'s fixture. */
function replaying(
  dialect: AdminApi,
  pick: (method: string, pathname: string, body: Buffer) => Fixture,
): { admin: AdminClient; seen: Array<{ method: string; url: URL; body: Buffer }> } {
  const seen: Array<{ method: string; url: URL; body: Buffer }> = [];
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const body = init?.body ? Buffer.from(init.body as Uint8Array) : Buffer.alloc(0);
    const method = init?.method ?? 'GET';
    seen.push({ method, url, body });
    return reply(pick(method, url.pathname, body));
  };
  const admin = createAdminClient({
    // One server each: clients of one endpoint share what detection learned.
    endpoint: `http://rustfs-${++servers}.test:9000`,
    credentials: FIXTURE_ROOT,
    dialect,
    fetch: f as typeof fetch,
  });
  return { admin, seen };
}

const one = (tag: Tag, dialect: 'rustfs' | 'madmin', name: string) =>
  replaying(dialect, () => fixture(tag, dialect, name)).admin;

async function codeOf(p: Promise<unknown>): Promise<AdminError> {
  const err = await p.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AdminError, String(err));
  return err;
}

type Call = (a: AdminClient) => Promise<unknown>;
const SVC = {
  parentUser: 'fixture-user',
  accessKey: 'FIXTURESVC0000000001',
  secretKey: 'fixture-svc-secret-01',
};

/** [fixture, the call that got it, the typed error, the tags it was captured on]. */
const ERRORS: Array<[string, Call, AdminErrorCode, readonly Tag[]]> = [
  ['info-canned-policy-missing', (a) => a.infoCannedPolicy('fixture-ghost'), 'NotFound', TAGS],
  ['set-user-policy-missing-user', (a) => a.attachPolicy('fixture-ghost', 'p'), 'NotFound', TAGS],
  ['set-user-policy-missing-policy', (a) => a.attachPolicy('fixture-user', 'ghost'), 'NotFound', TAGS],
  ['user-info-missing', (a) => a.userInfo('fixture-ghost'), 'NotFound', TAGS],
  ['set-user-status-missing', (a) => a.setUserStatus('fixture-ghost', 'disabled'), 'NotFound', TAGS],
  ['remove-user-missing', (a) => a.removeUser('fixture-ghost'), 'NotFound', TAGS],
  ['add-service-account-taken-same-parent', (a) => a.addServiceAccount(SVC), 'AlreadyExists', TAGS],
  ['add-service-account-taken-other-parent', (a) => a.addServiceAccount(SVC), 'AlreadyExists', TAGS],
  ['add-service-account-missing-parent', (a) => a.addServiceAccount(SVC), 'NotFound', TAGS],
  ['info-service-account-missing', (a) => a.infoServiceAccount('FIXTUREGHOSTKEY00001'), 'NotFound', TAGS],
  ['info-service-account-of-user', (a) => a.infoServiceAccount('fixture-user'), 'NotFound', TAGS],
  ['update-service-account-missing', (a) => a.updateServiceAccount('X', { status: 'on' }), 'NotFound', TAGS],
  ['update-service-account-of-user', (a) => a.updateServiceAccount('u', { status: 'on' }), 'NotFound', TAGS],
  // beta.7: only the parent may update an account (root included); rc.3 lets root again
  // (service_account.rs UpdateServiceAccount `!owner && …`, from rc.2).
  [
    'update-service-account',
    (a) => a.updateServiceAccount('X', { status: 'on' }),
    'AccessDenied',
    ['1.0.0-beta.7'],
  ],
  ['delete-service-account-missing', (a) => a.deleteServiceAccount('X'), 'NotFound', TAGS],
  ['add-canned-policy-invalid', (a) => a.addCannedPolicy('bad', {}), 'BadRequest', TAGS],
  ['list-users-as-user', (a) => a.listUsers(), 'AccessDenied', TAGS],
  ['list-users-wrong-secret', (a) => a.listUsers(), 'AuthenticationFailed', TAGS],
  ['info-unknown-key', (a) => a.serverInfo(), 'AuthenticationFailed', TAGS],
  ['admin-as-disabled-user', (a) => a.serverInfo(), 'AuthenticationFailed', TAGS],
  // What the body without the fields alpha.85 requires gets; the client always sends them.
  ['add-service-account-no-expiration', (a) => a.addServiceAccount(SVC), 'BadRequest', ['1.0.0-alpha.85']],
  [
    'update-service-account-no-expiration',
    (a) => a.updateServiceAccount('X', {}),
    'BadRequest',
    ['1.0.0-alpha.85'],
  ],
  ['add-service-account-policy-object', (a) => a.addServiceAccount(SVC), 'BadRequest', ['1.0.0-alpha.85']],
  ['add-service-account-singular', (a) => a.deleteServiceAccount('X'), 'NotImplemented', ['1.0.0-alpha.85']],
  // rc.1+: a user's name is a taken key too (alpha.85 and beta.7 let the account replace the user).
  ['add-service-account-key-is-user', (a) => a.addServiceAccount(SVC), 'AlreadyExists', ['1.0.0-rc.3']],
];

/** Releases that serve /minio/admin/v3 (alpha.85 answers 404 NoSuchBucket there). */
const MADMIN_TAGS = TAGS.filter((t) => t !== '1.0.0-alpha.85');

describe('RustFS error replies map to typed errors', () => {
  for (const [name, call, code, tags] of ERRORS) {
    for (const tag of tags) {
      test(`${tag} ${name} → ${code}`, async () => {
        const f = fixture(tag, 'rustfs', name);
        assert.ok(f.status >= 400, `the fixture is an error reply (${f.status})`);
        const err = await codeOf(call(one(tag, 'rustfs', name)));
        assert.equal(err.code, code, err.message);
        assert.equal(err.status, f.status);
      });
    }
  }

  test('a taken key says nothing about who holds it on RustFS', async () => {
    for (const tag of TAGS) {
      for (const name of [
        'add-service-account-taken-same-parent',
        'add-service-account-taken-other-parent',
      ]) {
        const err = await codeOf(one(tag, 'rustfs', name).addServiceAccount(SVC));
        assert.equal(takenAccessKeyHolder(err), 'unknown', `${tag} ${name}`);
      }
    }
    // rc.3 answers a user's name in the same words: the holder is read from the store.
    const err = await codeOf(
      one('1.0.0-rc.3', 'rustfs', 'add-service-account-key-is-user').addServiceAccount(SVC),
    );
    assert.match(err.message, /HTTP 400 InvalidArgument access key is already in use/);
    assert.equal(takenAccessKeyHolder(err), 'unknown');
  });

  test('rc.3: a missing user answers 400 InvalidArgument "user not found" on set-user-or-group-policy', async () => {
    const f = fixture('1.0.0-rc.3', 'rustfs', 'set-user-policy-missing-user');
    assert.equal(f.status, 400);
    assert.match(f.body ?? '', /<Code>InvalidArgument<\/Code><Message>user not found<\/Message>/);
    const err = await codeOf(
      one('1.0.0-rc.3', 'rustfs', 'set-user-policy-missing-user').attachPolicy('fixture-ghost', 'p'),
    );
    assert.equal(err.code, 'NotFound');
    assert.equal(err.retryable, false);
  });

  test('the same replies over /minio/admin/v3 map the same way', async () => {
    for (const tag of MADMIN_TAGS) {
      for (const [name, call, code, tags] of ERRORS) {
        if (!tags.includes(tag)) continue;
        const err = await codeOf(call(one(tag, 'madmin', name)));
        assert.equal(err.code, code, `${tag} ${name}: ${err.message}`);
      }
    }
  });

  test('the source-only shapes (no request provokes them on a healthy server): not ready', async () => {
    const shaped = (status: number, code: string, message: string) =>
      replaying('rustfs', () => ({
        request: { method: 'PUT', path: '/' },
        status,
        contentType: 'application/xml',
        body: `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
      })).admin;
    // rc.3 service_account.rs, every handler (e.g. :359): no ready IAM → InvalidRequest "iam not
    // init"; user.rs and policies.rs (e.g. user.rs:255, from beta.9): InternalError "iam is not
    // initialized".
    for (const [status, code, message] of [
      [400, 'InvalidRequest', 'iam not init'],
      [500, 'InternalError', 'iam not init'],
      [500, 'InternalError', 'iam is not initialized'],
    ] as const) {
      const notInit = await codeOf(shaped(status, code, message).listUsers());
      assert.equal(notInit.code, 'NotReady', message);
      assert.equal(notInit.retryable, true);
    }
    // handlers/health.rs build_health_response: 503 while dependencies are not ready.
    const unavailable = await codeOf(shaped(503, 'ServiceUnavailable', 'starting').listUsers());
    assert.equal(unavailable.code, 'NotReady');
    assert.equal(unavailable.retryable, true);
  });
});

/** What each release reports as its version in `info` (the alpha.85 build had no git metadata). */
const VERSION: Record<Tag, string> = {
  '1.0.0-alpha.85': '0.0.5',
  '1.0.0-beta.7': '1.0.0-beta.7',
  '1.0.0-rc.3': '1.0.0-rc.3',
};

describe('RustFS success replies', () => {
  for (const tag of TAGS) {
    test(`${tag}: info-canned-policy ({policy_name, policy}) is read as the policy`, async () => {
      const p = (await one(tag, 'rustfs', 'info-canned-policy').infoCannedPolicy('fixture-policy')) as {
        Statement: Array<{ Resource: string[] }>;
      };
      assert.deepEqual(p.Statement[0]!.Resource, ['arn:aws:s3:::fixture-bucket/*']);
    });

    test(`${tag}: server info, users, service accounts`, async () => {
      const info = await one(tag, 'rustfs', 'info').serverInfo();
      assert.equal(info.version, VERSION[tag]);
      assert.equal(info.mode, 'online');
      assert.deepEqual((await one(tag, 'rustfs', 'list-users').listUsers())['fixture-user'], {
        status: 'enabled',
        policyName: 'fixture-policy',
      });
      const sa = await one(tag, 'rustfs', 'info-service-account').infoServiceAccount('FIXTURESVC0000000001');
      assert.equal(sa.parentUser, 'fixture-user');
      assert.equal(sa.impliedPolicy, false);
      assert.match(sa.policy ?? '', /fixture-bucket/);
      const listed = await one(tag, 'rustfs', 'list-service-accounts').listServiceAccounts('fixture-user');
      assert.ok(listed.some((a) => a.accessKey === 'FIXTURESVC0000000001'));
    });
  }

  test('rc.3 wraps server info in {info, admin_discovery, bitrotSelftest} on both prefixes', async () => {
    for (const dialect of ['rustfs', 'madmin'] as const) {
      const body = JSON.parse(fixture('1.0.0-rc.3', dialect, 'info').body!) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), ['admin_discovery', 'bitrotSelftest', 'info']);
      const info = await one('1.0.0-rc.3', dialect, 'info').serverInfo();
      assert.equal(info.version, '1.0.0-rc.3', dialect);
      assert.equal(info.mode, 'online');
      assert.deepEqual(info.raw, body, 'raw is the whole reply');
    }
  });

  for (const tag of MADMIN_TAGS) {
    test(`${tag} /minio/admin/v3: PBKDF2-sealed replies are opened with the root secret`, async () => {
      for (const name of ['list-users', 'info-service-account', 'list-service-accounts']) {
        const f = fixture(tag, 'madmin', name);
        assert.ok(f.bodyBase64, `${name} is sealed`);
        assert.equal(Buffer.from(f.bodyBase64, 'base64')[32], 0x02, 'PBKDF2 algorithm id');
      }
      const admin = (name: string) => one(tag, 'madmin', name);
      assert.equal((await admin('list-users').listUsers())['fixture-user']?.policyName, 'fixture-policy');
      assert.equal(
        (await admin('info-service-account').infoServiceAccount('FIXTURESVC0000000001')).parentUser,
        'fixture-user',
      );
      const gen = await admin('add-service-account-generated-keys').addServiceAccount({
        parentUser: 'fixture-user',
      });
      assert.ok(gen.accessKey.length >= 3 && gen.secretKey.length >= 8);
    });
  }

  const healthOf = (tag: Tag) =>
    replaying('madmin', (_m, p) =>
      fixture(
        tag,
        'madmin',
        p === '/minio/health/ready'
          ? 'minio-health-ready'
          : p === '/minio/health/live'
            ? 'minio-health-live'
            : p === '/health'
              ? 'health'
              : 'health-ready',
      ),
    );

  test('rc.3 serves /minio/health/{live,ready} again (from beta.9): they decide', async () => {
    const { admin, seen } = healthOf('1.0.0-rc.3');
    assert.equal(await admin.ready(), true);
    assert.equal(await admin.live(), true);
    assert.deepEqual(
      seen.map((s) => s.url.pathname),
      ['/minio/health/ready', '/minio/health/live'],
    );
  });

  test('madmin health on RustFS alpha.85 and beta.7: /minio/health/* refused (403), /health/ready decides', async () => {
    for (const tag of ['1.0.0-alpha.85', '1.0.0-beta.7'] as const) {
      const { admin, seen } = healthOf(tag);
      assert.equal(await admin.ready(), true, tag);
      assert.equal(await admin.live(), true, tag);
      assert.deepEqual(
        seen.map((s) => s.url.pathname),
        ['/minio/health/ready', '/health/ready', '/minio/health/live', '/health'],
      );
    }
  });

  test('alpha.85 answers every /minio/admin/v3 call 404 NoSuchBucket: the error names the release and the fix', async () => {
    const err = await codeOf(one('1.0.0-alpha.85', 'madmin', 'list-users').listUsers());
    assert.equal(err.code, 'NotImplemented');
    assert.match(err.message, /does not serve the madmin admin API/);
    assert.match(err.message, /1\.0\.0-alpha\.85/);
    assert.match(err.message, /store\.adminApi to "rustfs" or "auto"/);
  });
});

describe('detectCapabilities from the captured probes', () => {
  const byRoute = (tag: Tag) => (method: string, pathname: string) => {
    // /rustfs/admin/v3/<route> or /minio/admin/v3/<route>
    const [, dialect, , , route] = pathname.split('/');
    const d = dialect === 'minio' ? 'madmin' : 'rustfs';
    if (route === 'info') return fixture(tag, d, 'info');
    if (route === 'module-switches') return fixture(tag, d, 'module-switches');
    if (method === 'PUT' && route === 'add-service-account')
      return fixture(tag, d, 'add-service-account-singular-probe');
    if (route === 'list-users') return fixture(tag, d, 'list-users');
    throw new Error(`unexpected probe ${method} ${pathname}`);
  };

  test('alpha.85 (reports 0.0.5): rustfs only, plural routes, IAM lost on a root change', async () => {
    const { admin, seen } = replaying('auto', byRoute('1.0.0-alpha.85'));
    const c = await admin.detectCapabilities();
    assert.deepEqual(
      { ...c, detectedBy: c.detectedBy.length },
      {
        kind: 'rustfs',
        version: '0.0.5',
        dialects: ['rustfs'],
        dialect: 'rustfs',
        serviceAccountRoutes: 'plural',
        iamSurvivesRootChange: false,
        detectedBy: 4,
      },
    );
    assert.ok(
      seen.every((s) => s.method === 'GET' || s.body.toString() === '[]'),
      'read-only probes',
    );
    // auto then talks the detected dialect.
    await admin.listUsers();
    assert.equal(seen.at(-1)!.url.pathname, '/rustfs/admin/v3/list-users');
    assert.equal(admin.dialect, 'rustfs');
  });

  test('rc.3: both dialects, singular routes, IAM kept, its version read from the wrapped info', async () => {
    const { admin, seen } = replaying('auto', byRoute('1.0.0-rc.3'));
    const c = await admin.detectCapabilities();
    assert.deepEqual(
      { ...c, detectedBy: c.detectedBy.length },
      {
        kind: 'rustfs',
        version: '1.0.0-rc.3',
        dialects: ['rustfs', 'madmin'],
        dialect: 'rustfs',
        serviceAccountRoutes: 'singular',
        iamSurvivesRootChange: true,
        detectedBy: 4,
      },
    );
    assert.ok(
      seen.every((s) => s.method === 'GET' || s.body.toString() === '[]'),
      'read-only probes',
    );
  });

  test('beta.7: both dialects, singular routes, IAM kept', async () => {
    const c = await replaying('auto', byRoute('1.0.0-beta.7')).admin.detectCapabilities();
    assert.equal(c.kind, 'rustfs');
    assert.equal(c.version, '1.0.0-beta.7');
    assert.deepEqual(c.dialects, ['rustfs', 'madmin']);
    assert.equal(c.serviceAccountRoutes, 'singular');
    assert.equal(c.iamSurvivesRootChange, true);
  });

  test('rustfs dialect on alpha.85 sends the body that release requires', async () => {
    const { admin, seen } = replaying('rustfs', () =>
      fixture('1.0.0-alpha.85', 'rustfs', 'add-service-account'),
    );
    await admin.addServiceAccount({
      parentUser: 'fixture-user',
      policy: { Version: '2012-10-17', Statement: [] },
    });
    const body = JSON.parse(seen[0]!.body.toString()) as Record<string, unknown>;
    assert.equal(typeof body.accessKey, 'string');
    assert.equal(typeof body.secretKey, 'string');
    assert.equal(body.name, 'rotator');
    assert.equal(body.expiration, '9999-12-31T23:59:59Z');
    assert.equal(typeof body.policy, 'string');
  });
});
