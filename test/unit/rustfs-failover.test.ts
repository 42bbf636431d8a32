// failoverAdmin over real admin clients whose transport is scripted per node: which node each
// call reaches, and which answers move a call on.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AdminError,
  createAdminClient,
  failoverAdmin,
  isAdminError,
  type AdminClient,
} from '../../src/rustfs';

const ROOT = { accessKey: 'rootadmin', secretKey: 'root-secret-key-must-never-leak-0123456789' };
const NODES = ['http://node-0.test:9000', 'http://node-1.test:9000', 'http://node-2.test:9000'];

type Behaviour = 'ok' | 'silent' | 'refused' | 'not-ready' | 'not-found';

/** Three nodes; `script[node]` says how that node answers, per call in order (the last repeats). */
function store(script: Record<string, Behaviour[]>) {
  const seen: string[] = [];
  const clientFor = (endpoint: string): AdminClient =>
    createAdminClient({
      endpoint,
      credentials: ROOT,
      dialect: 'rustfs',
      fetch: (async (input: string | URL | Request, init?: RequestInit) => {
        const url = new URL(String(input));
        seen.push(`${url.host} ${url.pathname.split('/').pop()}`);
        const calls = seen.filter((s) => s.startsWith(url.host)).length;
        const plan = script[`${url.protocol}//${url.host}`] ?? ['ok'];
        const how = plan[Math.min(calls, plan.length) - 1]!;
        switch (how) {
          case 'ok':
            return new Response(null, { status: 200 });
          case 'silent':
            // Held until the caller gives up, as beta.7's node held attachPolicy.
            return new Promise<Response>((_, reject) =>
              init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)),
            );
          case 'refused':
            throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
          case 'not-ready':
            return new Response('<Error><Code>ServiceUnavailable</Code></Error>', { status: 503 });
          case 'not-found':
            return new Response(
              '<Error><Code>XMinioAdminNoSuchPolicy</Code><Message>policy does not exist</Message></Error>',
              {
                status: 404,
              },
            );
        }
      }) as typeof fetch,
    });
  return { admin: failoverAdmin(NODES, clientFor, 100), seen };
}

describe('failoverAdmin: IAM calls over the nodes of one store', () => {
  test('every call goes to the first node while it answers', async () => {
    const { admin, seen } = store({});
    await admin.addCannedPolicy('zone-a', { Version: '2012-10-17', Statement: [] });
    await admin.attachPolicy('zone-a-user', 'zone-a');
    assert.deepEqual(seen, [
      'node-0.test:9000 add-canned-policy',
      'node-0.test:9000 set-user-or-group-policy',
    ]);
    assert.equal(admin.endpoint, NODES[0]);
  });

  test('a node that holds a call past the limit loses it, and the calls after it, to the next node', async () => {
    const { admin, seen } = store({ [NODES[0]!]: ['ok', 'silent'] });
    await admin.addCannedPolicy('zone-a', { Version: '2012-10-17', Statement: [] });
    await admin.attachPolicy('zone-a-user', 'zone-a');
    await admin.addCannedPolicy('zone-b', { Version: '2012-10-17', Statement: [] });
    assert.deepEqual(seen, [
      'node-0.test:9000 add-canned-policy',
      'node-0.test:9000 set-user-or-group-policy',
      'node-1.test:9000 set-user-or-group-policy',
      'node-1.test:9000 add-canned-policy',
    ]);
    assert.equal(admin.endpoint, NODES[1]);
  });

  test('a refused connection or "not ready" moves on too', async () => {
    const { admin, seen } = store({ [NODES[0]!]: ['refused'], [NODES[1]!]: ['not-ready'] });
    await admin.attachPolicy('zone-a-user', 'zone-a');
    assert.deepEqual(
      seen.map((s) => s.split(' ')[0]),
      ['node-0.test:9000', 'node-1.test:9000', 'node-2.test:9000'],
    );
  });

  test('an answer, even an error, stays with the node that gave it', async () => {
    const { admin, seen } = store({ [NODES[0]!]: ['not-found'] });
    await assert.rejects(admin.attachPolicy('zone-a-user', 'zone-a'), (err: unknown) =>
      isAdminError(err, 'NotFound'),
    );
    assert.deepEqual(seen, ['node-0.test:9000 set-user-or-group-policy']);
  });

  test('no node answering fails the call as Unavailable, naming each node once', async () => {
    const { admin, seen } = store({
      [NODES[0]!]: ['silent'],
      [NODES[1]!]: ['refused'],
      [NODES[2]!]: ['silent'],
    });
    await assert.rejects(admin.attachPolicy('zone-a-user', 'zone-a'), (err: unknown) => {
      assert.ok(err instanceof AdminError && err.code === 'Unavailable' && err.retryable);
      assert.match(err.message, /none of the store's 3 nodes answered/);
      for (const n of NODES) assert.equal(err.message.split(n).length - 1, 1, n);
      assert.ok(!err.message.includes(ROOT.secretKey));
      return true;
    });
    assert.equal(seen.length, 3);
  });

  test("live and ready are the current node's answer, never a failover", async () => {
    const { admin, seen } = store({ [NODES[0]!]: ['refused'] });
    assert.equal(await admin.live(), false);
    assert.ok(seen.every((s) => s.startsWith('node-0')));
    assert.equal(admin.endpoint, NODES[0]);
  });

  test('no endpoint is a programming error, not an empty client', () => {
    assert.throws(() => failoverAdmin([], () => ({}) as AdminClient, 100), /no endpoint/);
  });
});
