import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { createIamWrites } from '../../src/activities/iam-writes';
import { type Inventory } from '../../src/inventory';
import { type Kube } from '../../src/kube';
import { type AdminClient, type S3Ops, compareReleases, iamWritesMayBeUndone } from '../../src/rustfs';
import { inventory as dashi } from '../support/dashi';

/** The version a captured RustFS release reported in `info` (servers[].version; under `info` from beta.9). */
function capturedVersion(tag: string): string {
  const file = path.join(__dirname, '..', 'fixtures', 'rustfs', tag, 'rustfs', 'info.json');
  type Info = { servers: Array<{ version: string }> };
  const body = JSON.parse(JSON.parse(fs.readFileSync(file, 'utf8')).body as string) as Info | { info: Info };
  return ('info' in body ? body.info : body).servers[0]!.version;
}

describe('which RustFS releases may undo an IAM write in their reload', () => {
  test('the captured releases: alpha.85 (reports @0.0.5) may, beta.7 and rc.3 do not', () => {
    assert.equal(capturedVersion('1.0.0-alpha.85'), '@0.0.5');
    assert.equal(iamWritesMayBeUndone(capturedVersion('1.0.0-alpha.85')), true);
    assert.equal(iamWritesMayBeUndone(capturedVersion('1.0.0-beta.7')), false);
    assert.equal(capturedVersion('1.0.0-rc.3'), '@1.0.0-rc.3');
    assert.equal(iamWritesMayBeUndone(capturedVersion('1.0.0-rc.3')), false);
  });

  test('ordered by release: everything before 1.0.0-beta.6 may, from it on not', () => {
    for (const v of ['1.0.0-alpha.85', '1.0.0-alpha.99', '1.0.0-beta.1', '1.0.0-beta.5', '0.9.9'])
      assert.equal(iamWritesMayBeUndone(v), true, v);
    for (const v of ['1.0.0-beta.6', '@1.0.0-beta.10', '1.0.0-rc.1', '1.0.0', '1.1.0-alpha.1', '2.0.0'])
      assert.equal(iamWritesMayBeUndone(v), false, v);
  });

  test('releases sort by version (the RustFS rounds pick the newest for their 4-node round)', () => {
    assert.deepEqual(
      ['1.0.0-rc.3', '1.0.0', 'dev', '1.0.0-alpha.85', '1.0.0-beta.7', '1.0.0-beta.10'].sort(compareReleases),
      ['dev', '1.0.0-alpha.85', '1.0.0-beta.7', '1.0.0-beta.10', '1.0.0-rc.3', '1.0.0'],
    );
    assert.equal(compareReleases('@1.0.0-beta.7', '1.0.0-beta.7'), 0);
  });

  test('no version, or one that is not a release, counts as affected', () => {
    for (const v of [undefined, '', 'dev', '1.0', '1.0.0-beta', 'RELEASE.2025-01-01T00-00-00Z'])
      assert.equal(iamWritesMayBeUndone(v), true, String(v));
  });
});

describe('IAM writes read back until they last', () => {
  const fakeAdmin = (version: string, calls: string[]) =>
    ({
      serverInfo: async () => {
        calls.push('serverInfo');
        return { version, raw: {} };
      },
    }) as unknown as AdminClient;
  const writes = (kind: Inventory['store']['kind']) =>
    createIamWrites(
      { inventory: { ...dashi, store: { ...dashi.store, kind } }, s3: () => ({}) as S3Ops, kube: {} as Kube },
      1,
    );

  test('a store that may undo it: an undone write is applied again, and the result says so', async () => {
    const calls: string[] = [];
    const held = [false, true];
    const result = await writes('rustfs').lasting(
      fakeAdmin('0.0.5', calls),
      'the removal of K',
      async () => {
        calls.push('apply');
        return 'service account K deleted';
      },
      async () => {
        calls.push('check');
        return held.shift()!;
      },
    );
    assert.deepEqual(calls, ['apply', 'serverInfo', 'check', 'apply', 'check']);
    assert.equal(result, "service account K deleted (the store's IAM reload undid it; applied again 1×)");
  });

  test('a write the store keeps is applied once and checked once', async () => {
    const calls: string[] = [];
    const result = await writes('rustfs').lasting(
      fakeAdmin('1.0.0-alpha.85', calls),
      'w',
      async () => (calls.push('apply'), 'done'),
      async () => (calls.push('check'), true),
    );
    assert.deepEqual(calls, ['apply', 'serverInfo', 'check']);
    assert.equal(result, 'done');
  });

  test('a release that orders its reload, and MinIO, are not read back', async () => {
    for (const [kind, version, expected] of [
      ['rustfs', '1.0.0-beta.7', ['apply', 'serverInfo']],
      ['minio', '0.0.5', ['apply']],
    ] as const) {
      const calls: string[] = [];
      await writes(kind).lasting(
        fakeAdmin(version, calls),
        'w',
        async () => (calls.push('apply'), 'done'),
        async () => (calls.push('check'), false),
      );
      assert.deepEqual(calls, expected, kind);
    }
  });

  test('a write undone every time ends the attempt with a retryable, typed failure', async () => {
    let applied = 0;
    const err = await writes('rustfs')
      .lasting(
        fakeAdmin('0.0.5', []),
        'the removal of K',
        async () => (applied++, 'x'),
        async () => false,
      )
      .catch((e: unknown) => e);
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'StoreIamWriteUndone');
    assert.equal(err.nonRetryable, false);
    assert.match(err.message, /undid the removal of K 4 times/);
    assert.equal(applied, 4);
  });
});
