// Notification bodies (generic JSON and Slack's {text, blocks}), the run's Web UI link, the
// sink configuration in the inventory, and that a webhook URL (a credential, for Slack)
// reaches neither an error, an inventory message nor what workflows record.
import assert from 'node:assert/strict';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fingerprint } from '../../src/fingerprint';
import { historySafe, InventoryError, NOTIFY_DEFAULT_ON, parseInventory } from '../../src/inventory';
import { renderGeneric, renderSlack, runLink } from '../../src/notify/render';
import { postJson, SinkError, sinkUrl } from '../../src/notify/send';
import { type Announcement } from '../../src/workflows/types';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const TOKEN = 'xoxb-T0001-B0002-SeCrEtHoOkToKeN';
const run = {
  namespace: 'default',
  workflowId: 'rotate-root',
  runId: '0190-abc',
  webUiUrl: 'http://127.0.0.1:8233/',
};
const announcement: Announcement = {
  seq: 2,
  workflow: 'RotateRoot',
  events: [],
  notification: {
    kind: 'paused',
    title: 'RotateRoot PAUSED: the store is not back with the new root',
    text: `store not ready <after 3s> & new root ${fingerprint(SECRET)} refused`,
    deadline: { at: '2026-12-02T17:00:00.000Z', what: 'automatic rollback to the previous root' },
    commands: ['rotator resume rotate-root --by <you> --reason <why>'],
  },
};
const n = announcement.notification!;
const at = new Date('2026-12-02T16:30:00.000Z');

describe('rendering', () => {
  test('the Web UI link: <base>/namespaces/<ns>/workflows/<workflowId>/<runId>', () => {
    assert.equal(runLink(run), 'http://127.0.0.1:8233/namespaces/default/workflows/rotate-root/0190-abc');
    assert.equal(
      runLink({ ...run, workflowId: 'rotate zone/x', webUiUrl: 'https://ui.example/t' }),
      'https://ui.example/t/namespaces/default/workflows/rotate%20zone%2Fx/0190-abc',
    );
    assert.equal(runLink({ ...run, webUiUrl: undefined }), undefined);
  });

  test('generic JSON: the run, what happened, the deadline, the commands and the link', () => {
    assert.deepEqual(renderGeneric(announcement, n, run, at), {
      source: 'rustfs-rotator',
      kind: 'paused',
      workflow: 'RotateRoot',
      namespace: 'default',
      workflowId: 'rotate-root',
      runId: '0190-abc',
      title: n.title,
      text: n.text,
      deadline: n.deadline,
      commands: n.commands,
      link: 'http://127.0.0.1:8233/namespaces/default/workflows/rotate-root/0190-abc',
      at: '2026-12-02T16:30:00.000Z',
    });
    const zone = renderGeneric(
      { ...announcement, workflow: 'RotateZone', zone: 'serving' },
      { kind: 'failed', title: 't', text: 'x' },
      { ...run, webUiUrl: undefined },
      at,
    );
    assert.equal(zone.zone, 'serving');
    assert.ok(!('link' in zone) && !('deadline' in zone) && !('commands' in zone));
  });

  test('Slack: {text, blocks} with mrkdwn escaped and the link as <url|label>', () => {
    const slack = renderSlack(announcement, n, run);
    assert.deepEqual(Object.keys(slack).sort(), ['blocks', 'text']);
    assert.match(
      slack.text,
      /^RotateRoot PAUSED: .* — http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/rotate-root\/0190-abc$/,
    );
    const blocks = slack.blocks as Array<{
      type: string;
      text?: { type: string; text: string };
      elements?: Array<{ text: string }>;
    }>;
    assert.deepEqual(
      blocks.map((b) => b.type),
      ['section', 'section', 'section', 'context'],
    );
    assert.ok(blocks.slice(0, 3).every((b) => b.text?.type === 'mrkdwn'));
    assert.match(blocks[0]!.text!.text, /store not ready &lt;after 3s&gt; &amp; new root sha256:/);
    assert.match(
      blocks[1]!.text!.text,
      /automatic rollback to the previous root\* at 2026-12-02T17:00:00.000Z/,
    );
    assert.match(blocks[2]!.text!.text, /rotator resume rotate-root --by &lt;you&gt;/);
    assert.equal(
      blocks[3]!.elements![0]!.text,
      '<http://127.0.0.1:8233/namespaces/default/workflows/rotate-root/0190-abc|Open rotate-root (run 0190-abc) in the Temporal Web UI>',
    );
  });

  test('a body carries the fingerprint it was given, never the key behind it', () => {
    for (const body of [renderGeneric(announcement, n, run, at), renderSlack(announcement, n, run)]) {
      const text = JSON.stringify(body);
      assert.ok(text.includes(fingerprint(SECRET)));
      for (const needle of [
        SECRET,
        Buffer.from(SECRET).toString('base64'),
        Buffer.from(SECRET).toString('hex'),
      ])
        assert.ok(!text.includes(needle));
    }
  });
});

describe('sinks', () => {
  let server: http.Server;
  let base: string;
  const received: { path: string; body: string }[] = [];
  let status = 200;
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const sink = (target: { url: string } | { env: string }) => ({
    name: 'oncall',
    format: 'slack' as const,
    target,
    on: [...NOTIFY_DEFAULT_ON],
  });

  test('the URL from the environment; a missing or malformed one is named by variable, not shown', () => {
    const url = `${base}/services/${TOKEN}`;
    assert.equal(sinkUrl(sink({ env: 'HOOK' }), { HOOK: url }), url);
    assert.throws(
      () => sinkUrl(sink({ env: 'HOOK' }), {}),
      (err: unknown) =>
        err instanceof SinkError &&
        err.permanent &&
        err.message === 'notification sink oncall: environment variable HOOK is not set',
    );
    assert.throws(
      () => sinkUrl(sink({ env: 'HOOK' }), { HOOK: `not a url ${TOKEN}` }),
      (err: unknown) =>
        err instanceof SinkError &&
        /HOOK is not an http\(s\) URL$/.test(err.message) &&
        !err.message.includes(TOKEN),
    );
  });

  test('posts the JSON body; failures name the sink and the status or error code, never the URL', async () => {
    const url = `${base}/services/${TOKEN}`;
    await postJson(sink({ url }), url, { text: 'hello' });
    assert.deepEqual(received.at(-1), { path: `/services/${TOKEN}`, body: '{"text":"hello"}' });

    for (const [code, permanent] of [
      [500, false],
      [429, false],
      [404, true],
    ] as const) {
      status = code;
      await assert.rejects(postJson(sink({ url }), url, {}), (err: unknown) => {
        assert.ok(err instanceof SinkError);
        assert.equal(err.message, `notification sink oncall: HTTP ${code}`);
        assert.equal(err.permanent, permanent);
        return true;
      });
    }
    status = 200;

    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const dead = `http://127.0.0.1:${port}/services/${TOKEN}`;
    await assert.rejects(postJson(sink({ url: dead }), dead, {}), (err: unknown) => {
      assert.ok(err instanceof SinkError);
      assert.equal(err.message, 'notification sink oncall: request failed (ECONNREFUSED)');
      assert.equal(err.permanent, false);
      return true;
    });
  });
});

describe('the inventory', () => {
  const inventory = (notifications: string) => `
store:
  kind: minio
  endpoint: http://127.0.0.1:9000
  rootSecret: {namespace: p, name: root}
  workload: {kind: StatefulSet, namespace: p, name: store}
${notifications}
zones:
  - name: serving
    user: serving-reader
    policy: {readOnly: [curated]}
    secret: {namespace: s, name: serving}
`;

  test('sinks: url or urlFrom, json by default, `on` defaulting to everything but completed', () => {
    const inv = parseInventory(
      inventory(`notifications:
  - name: oncall
    format: slack
    urlFrom: {env: ROTATOR_SLACK_WEBHOOK}
  - name: audit
    url: https://audit.example/hook?token=${TOKEN}
    on: [completed, failed, completed]`),
      'inv.yaml',
    );
    assert.deepEqual(inv.notifications, [
      {
        name: 'oncall',
        format: 'slack',
        target: { env: 'ROTATOR_SLACK_WEBHOOK' },
        on: ['awaiting-approval', 'paused', 'failed', 'rolled-back', 'canceled', 'escalated'],
      },
      {
        name: 'audit',
        format: 'json',
        target: { url: `https://audit.example/hook?token=${TOKEN}` },
        on: ['completed', 'failed'],
      },
    ]);
    // What workflows record in their histories holds no sink at all.
    const snapshot = historySafe(inv);
    assert.ok(!('notifications' in snapshot));
    assert.ok(!JSON.stringify(snapshot).includes(TOKEN));
    assert.deepEqual(parseInventory(inventory(''), 'inv.yaml').notifications, []);
  });

  test('bad sinks: each problem located, a malformed URL never echoed', () => {
    assert.throws(
      () =>
        parseInventory(
          inventory(`notifications:
  - name: oncall
    url: hooks.slack.com/services/${TOKEN}
  - name: oncall
    url: https://x.example/
    urlFrom: {env: HOOK}
  - name: pager
    urlFrom: {env: 1BAD}
    on: [paused, explode]
  - name: empty`),
          'inv.yaml',
        ),
      (err: unknown) => {
        assert.ok(err instanceof InventoryError);
        assert.ok(!err.message.includes(TOKEN), err.message);
        const lines = err.issues.map((i) => `${i.path}: ${i.message}`);
        assert.ok(
          lines.some((l) =>
            /^notifications\[0\]\.url: expected an http\(s\) URL .*\(value not shown\)$/.test(l),
          ),
          lines.join('\n'),
        );
        assert.ok(
          lines.some((l) => /^notifications\[1\]: expected exactly one of url or urlFrom/.test(l)),
          lines.join('\n'),
        );
        assert.ok(
          lines.some((l) =>
            /^notifications\[2\]\.urlFrom\.env: expected an environment variable name/.test(l),
          ),
          lines.join('\n'),
        );
        assert.ok(
          lines.some((l) =>
            /^notifications\[2\]\.on\[1\]: expected one of awaiting-approval, .*completed/.test(l),
          ),
          lines.join('\n'),
        );
        assert.ok(
          lines.some((l) => /^notifications\[3\]: expected exactly one of url or urlFrom/.test(l)),
          lines.join('\n'),
        );
        return true;
      },
    );
    assert.throws(
      () =>
        parseInventory(
          inventory(`notifications:
  - {name: oncall, url: "https://a.example/"}
  - {name: oncall, urlFrom: {env: HOOK}}`),
          'inv.yaml',
        ),
      /notifications\[1\]\.name: expected a unique sink name, but "oncall" is also notifications\[0\]\.name/,
    );
  });
});
