/**
 * The service accounts whose parent is the root, and what a root rotation does to them and to
 * sessions: read from the replies real RustFS releases gave (test/fixtures/rustfs/<tag>/,
 * captured by test/fixtures/rustfs/capture.ts: `add-service-account-root-parent`, then
 * `list-service-accounts-root`), and the sentence per store.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { rootServiceAccountFindings } from '../../src/audit/report';
import { createAdminClient, type AdminApi } from '../../src/rustfs';
import {
  SESSIONS_END,
  describeRootDependents,
  rootServiceAccounts,
  rootServiceAccountsEffect,
} from '../../src/rustfs/root-dependents';
import { FIXTURE_ROOT, FIXTURE_ROOT_SVC } from '../fixtures/rustfs/capture';

const DIR = path.join(__dirname, '..', 'fixtures', 'rustfs');
const TAGS = ['1.0.0-alpha.85', '1.0.0-beta.7', '1.0.0-rc.3'] as const;

interface Fixture {
  request: { method: string; path: string; query: Record<string, string> };
  status: number;
  contentType: string | null;
  body?: string;
  bodyBase64?: string;
}

const fixture = (tag: string, dialect: 'rustfs' | 'madmin', name: string): Fixture =>
  JSON.parse(fs.readFileSync(path.join(DIR, tag, dialect, `${name}.json`), 'utf8')) as Fixture;

let servers = 0;
function replaying(dialect: AdminApi, f: Fixture) {
  const seen: URL[] = [];
  const admin = createAdminClient({
    endpoint: `http://root-dependents-${++servers}.test:9000`,
    credentials: FIXTURE_ROOT,
    dialect,
    fetch: (async (input: string | URL | Request) => {
      seen.push(new URL(String(input)));
      const body =
        f.bodyBase64 !== undefined ? Buffer.from(f.bodyBase64, 'base64') : Buffer.from(f.body ?? '');
      return new Response(body.length ? new Uint8Array(body) : null, {
        status: f.status,
        headers: f.contentType ? { 'content-type': f.contentType } : {},
      });
    }) as typeof fetch,
  });
  return { admin, seen };
}

describe('root-parented service accounts, from the captured replies', () => {
  for (const tag of TAGS) {
    for (const dialect of tag === '1.0.0-alpha.85'
      ? (['rustfs'] as const)
      : (['rustfs', 'madmin'] as const)) {
      test(`${tag} ${dialect}: root may create an account for itself, and lists it as its own`, async () => {
        const added = fixture(tag, dialect, 'add-service-account-root-parent');
        assert.equal(added.status, 200, added.body);
        const listed = fixture(tag, dialect, 'list-service-accounts-root');
        assert.equal(listed.status, 200);
        assert.deepEqual(listed.request.query, { user: FIXTURE_ROOT.accessKey });
        const { admin, seen } = replaying(dialect, listed);
        const keys = await rootServiceAccounts(admin, FIXTURE_ROOT.accessKey);
        assert.deepEqual(keys, [FIXTURE_ROOT_SVC.accessKey]);
        assert.equal(seen[0]!.searchParams.get('user'), FIXTURE_ROOT.accessKey);
        assert.ok(seen[0]!.pathname.endsWith('/list-service-accounts'));
        // The zone user's accounts are not root's.
        const accounts = await replaying(
          dialect,
          fixture(tag, dialect, 'list-service-accounts'),
        ).admin.listServiceAccounts('fixture-user');
        assert.ok(accounts.every((a) => a.parentUser === 'fixture-user'));
      });
    }
  }

  test('an account listed under another parent is not counted', async () => {
    const admin = {
      listServiceAccounts: async () => [
        { accessKey: 'B', parentUser: 'root' },
        { accessKey: 'A', parentUser: 'root' },
        { accessKey: 'C', parentUser: 'someone' },
        { accessKey: 'D' },
      ],
    } as unknown as Parameters<typeof rootServiceAccounts>[0];
    assert.deepEqual(await rootServiceAccounts(admin, 'root'), ['A', 'B', 'D']);
  });
});

describe('what a root rotation does to them', () => {
  test('IAM kept (RustFS beta.7, rc.3, MinIO): they keep root rights while the access key stays', () => {
    const s = rootServiceAccountsEffect(
      { kind: 'rustfs', version: '1.0.0-rc.3', iamSurvivesRootChange: true },
      ['K1', 'K2'],
    );
    assert.match(
      s,
      /^2 service account\(s\) whose parent is the root \(K1, K2\) keep root's rights on rustfs 1\.0\.0-rc\.3/,
    );
    assert.match(s, /change of the root access key .* would strip them/);
  });

  test('IAM lost (RustFS alpha.85): they are lost and not re-created', () => {
    const s = rootServiceAccountsEffect(
      { kind: 'rustfs', version: '1.0.0-alpha.85', iamSurvivesRootChange: false },
      ['K1'],
    );
    assert.match(s, /^1 service account\(s\) whose parent is the root \(K1\) are lost .* NOT re-created/);
    assert.match(s, /lose root's rights/);
  });

  test('none: nothing to lose; sessions end on every store', () => {
    const d = describeRootDependents({ kind: 'minio', iamSurvivesRootChange: true }, []);
    assert.deepEqual(d.serviceAccounts, []);
    assert.match(
      d.serviceAccountsEffect,
      /^0 service account\(s\) whose parent is the root: nothing to lose$/,
    );
    assert.equal(d.sessions, SESSIONS_END);
    assert.match(d.sessions, /^console and STS sessions signed with the root secret end/);
  });
});

describe('rotator audit', () => {
  test('each service account of root is a warning naming it, never a secret', async () => {
    const listed = fixture('1.0.0-rc.3', 'rustfs', 'list-service-accounts-root');
    const keys = await rootServiceAccounts(replaying('rustfs', listed).admin, FIXTURE_ROOT.accessKey);
    const findings = rootServiceAccountFindings(FIXTURE_ROOT.accessKey, keys);
    assert.equal(findings.length, 1);
    assert.equal(findings[0]!.severity, 'warning');
    assert.equal(findings[0]!.subject, `service account ${FIXTURE_ROOT_SVC.accessKey}`);
    assert.match(
      findings[0]!.message,
      /has the root fixtureroot as its parent: it holds root's rights only while/,
    );
    assert.match(findings[0]!.message, /RotateRoot never re-creates it/);
    assert.ok(!findings[0]!.message.includes(FIXTURE_ROOT_SVC.secretKey));
    assert.deepEqual(rootServiceAccountFindings('root', []), []);
  });
});
