// Events and notifications on the real stack: after each workflow the Events are read back
// from the real apiserver (reasons, types, the objects they are about, as `kubectl describe`
// selects them), and a webhook receiver on loopback gets exactly the expected messages —
// none holding a secret value, and no history holding a webhook URL.
import assert from 'node:assert/strict';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type CoreV1Event } from '@kubernetes/client-node';
import { EVENT_COMPONENT } from '../../src/kube/events';
import { approveUpdate, rollbackUpdate } from '../../src/workflows/definitions';
import { adminKube, eventually, readSecretData } from '../support/kube';
import {
  assertNoSecretsInHistory,
  collectSecretValues,
  nodeAgent,
  startRotator,
  waitPhase,
  type Rotator,
} from '../support/rotator';
import { getStack } from '../support/stack';
import { adminWorks, creds } from '../support/store';

const stack = getStack();
const { core } = adminKube(stack);
const secrets = new Set<string>();
let rotator: Rotator;

// The webhook URLs carry tokens, as Slack's do: neither may reach a history.
const SLACK_TOKEN = 'T0SLACK/B0HOOK/slackhooktoken0123456789';
const JSON_TOKEN = 'jsonsinktoken-9876543210abcdef';
const HOOK_ENV = 'ROTATOR_E2E_SLACK_WEBHOOK';

interface Received {
  sink: 'slack' | 'json';
  raw: string;
  body: Record<string, unknown>;
}
const received: Received[] = [];
/** Every request that reached a sink, answered or refused, in order. */
const requests: Array<Received['sink']> = [];
/** How many more requests to the JSON sink are refused with a 503 (a sink down for a moment). */
let refuseJson = 0;
let server: http.Server;

/** What arrived since the last call, as `sink kind workflowId` (Slack: `sink text`). */
function take(): Received[] {
  return received.splice(0, received.length);
}

const SERVING_SECRET = { kind: 'Secret', namespace: 'dashi-serving', name: 'dashi-rustfs-serving' };
const ROOT_SECRET = { kind: 'Secret', namespace: 'dashi-platform', name: 'rustfs-root' };
const TITILER = { kind: 'Deployment', namespace: 'dashi-serving', name: 'titiler' };
const DUCKDB = { kind: 'Deployment', namespace: 'dashi-serving', name: 'duckdb-endpoint' };
const STORE = { kind: 'StatefulSet', namespace: 'dashi-platform', name: 'rustfs' };
type Ref = typeof SERVING_SECRET;

async function uidOf(ref: Ref): Promise<string> {
  const { apps } = adminKube(stack);
  const args = { namespace: ref.namespace, name: ref.name };
  const obj =
    ref.kind === 'Secret'
      ? await core.readNamespacedSecret(args)
      : ref.kind === 'Deployment'
        ? await apps.readNamespacedDeployment(args)
        : await apps.readNamespacedStatefulSet(args);
  return obj.metadata!.uid!;
}

/** The rotator's Events on the object, selected as `kubectl describe` selects them (kind, name, uid). */
async function eventsOn(ref: Ref): Promise<CoreV1Event[]> {
  const uid = await uidOf(ref);
  const list = await core.listNamespacedEvent({
    namespace: ref.namespace,
    fieldSelector: `involvedObject.kind=${ref.kind},involvedObject.name=${ref.name},involvedObject.uid=${uid}`,
  });
  return list.items.filter((e) => e.reportingComponent === EVENT_COMPONENT);
}

/** Names of the rotator's Events on each object now, to tell the new ones apart afterwards. */
async function snapshot(refs: Ref[]): Promise<Set<string>> {
  const names = new Set<string>();
  for (const ref of refs) for (const e of await eventsOn(ref)) names.add(e.metadata!.name!);
  return names;
}

/** The Events on `ref` created after `seen`, as sorted `Reason Type` (second-resolution timestamps give no order). */
async function newEvents(ref: Ref, seen: Set<string>): Promise<{ lines: string[]; events: CoreV1Event[] }> {
  const events = (await eventsOn(ref)).filter((e) => !seen.has(e.metadata!.name!));
  for (const e of events) {
    assert.equal(e.source?.component, EVENT_COMPONENT);
    assert.ok(e.reportingInstance, 'reportingInstance set');
    assert.equal(e.involvedObject.apiVersion, ref.kind === 'Secret' ? 'v1' : 'apps/v1');
    assert.equal(e.involvedObject.namespace, ref.namespace);
    assert.equal(e.count, 1);
  }
  return { lines: events.map((e) => `${e.reason} ${e.type}`).sort(), events };
}

/** Every message body and Event message is free of every secret value, raw, base64 or hex. */
function assertNoSecretIn(texts: string[], what: string): void {
  const haystack = texts.join('\n');
  for (const secret of secrets) {
    if (secret.length < 8) continue;
    for (const needle of [
      secret,
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('hex'),
    ])
      assert.ok(!haystack.includes(needle), `a secret value appears in ${what}`);
  }
}

const agent = nodeAgent(stack);

const link = (workflowId: string, runId: string) =>
  `${stack.temporal.uiUrl.replace(/\/+$/, '')}/namespaces/${stack.temporal.namespace}/workflows/${workflowId}/${runId}`;

/** `sink kind workflowId` of each generic body; `slack <first line of text>` of each Slack one. */
const summary = (r: Received) =>
  r.sink === 'json'
    ? `json ${String(r.body.kind)} ${String(r.body.workflowId)}`
    : `slack ${String(r.body.text).split(':')[0]}`;

async function scanAll(ids: string[], bodies: Received[], events: CoreV1Event[]): Promise<void> {
  await collectSecretValues(stack, secrets);
  assertNoSecretIn(
    bodies.map((b) => b.raw),
    'a notification',
  );
  assertNoSecretIn(
    events.map((e) => e.message ?? ''),
    'an Event',
  );
  // The webhook URLs' tokens are secrets of their own: no history may hold them.
  await assertNoSecretsInHistory(rotator, ids, new Set([...secrets, SLACK_TOKEN, JSON_TOKEN]));
}

describe('Events and notifications against the real stack', () => {
  before(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        const sink =
          req.url === `/slack/${SLACK_TOKEN}`
            ? 'slack'
            : req.url === `/json?token=${JSON_TOKEN}`
              ? 'json'
              : undefined;
        if (!sink) {
          res.writeHead(404).end();
          return;
        }
        requests.push(sink);
        if (sink === 'json' && refuseJson > 0) {
          refuseJson--;
          res.writeHead(503).end('down');
          return;
        }
        received.push({ sink, raw, body: JSON.parse(raw) as Record<string, unknown> });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    rotator = await startRotator(stack, {
      grace: '0s',
      notifications: [
        { name: 'oncall', format: 'slack', urlFrom: { env: HOOK_ENV } },
        {
          name: 'audit',
          url: `${base}/json?token=${JSON_TOKEN}`,
          on: ['awaiting-approval', 'paused', 'failed', 'rolled-back', 'canceled', 'escalated', 'completed'],
        },
      ],
      env: { [HOOK_ENV]: `${base}/slack/${SLACK_TOKEN}` },
    });
    await rotator.client.workflow.execute('BootstrapCluster', {
      taskQueue: rotator.taskQueue,
      workflowId: 'bootstrap-cluster',
      args: [{}],
    });
    assert.deepEqual(take().map(summary), ['json completed bootstrap-cluster']);
  });
  beforeEach(() => agent.reset());
  after(async () => {
    await rotator?.client.workflow
      .getHandle('rotate-root')
      .terminate('test cleanup')
      .catch(() => undefined);
    await agent.reset().catch(() => undefined);
    await rotator?.close();
    await new Promise<void>((r) => server?.close(() => r()));
  });

  test('RotateZone completed: Rotated, ConsumersRestarted, PreviousKeyRevoked; only the completed-sink is told', async () => {
    const seen = await snapshot([SERVING_SECRET, TITILER, DUCKDB]);
    const handle = await rotator.client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving' }],
    });
    await handle.result();
    const secret = await newEvents(SERVING_SECRET, seen);
    assert.deepEqual(secret.lines, [
      'ConsumersRestarted Normal',
      'PreviousKeyRevoked Normal',
      'Rotated Normal',
    ]);
    const data = await readSecretData(stack, 'dashi-serving', 'dashi-rustfs-serving');
    const rotated = secret.events.find((e) => e.reason === 'Rotated')!;
    assert.match(
      rotated.message!,
      new RegExp(`now holds access key ${data['access-key']} \\(sha256:[0-9a-f]{12}\\)`),
    );
    const workloads = [await newEvents(TITILER, seen), await newEvents(DUCKDB, seen)];
    for (const w of workloads) assert.deepEqual(w.lines, ['ConsumersRestarted Normal']);

    const bodies = take();
    assert.deepEqual(bodies.map(summary), ['json completed rotate-zone-serving']);
    assert.equal(bodies[0]!.body.link, link('rotate-zone-serving', handle.firstExecutionRunId));
    assert.equal(bodies[0]!.body.zone, 'serving');
    await scanAll(['rotate-zone-serving'], bodies, [...secret.events, ...workloads.flatMap((w) => w.events)]);
  });

  test('RotateZone canceled in the grace wait: RolledBack on the Secret, consumers restarted back, both sinks told', async () => {
    const seen = await snapshot([SERVING_SECRET, TITILER]);
    const handle = await rotator.client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving', grace: '1h' }],
    });
    await waitPhase(handle, 'waiting-grace');
    await handle.cancel();
    await assert.rejects(handle.result());
    const secret = await newEvents(SERVING_SECRET, seen);
    assert.deepEqual(secret.lines, ['ConsumersRestarted Normal', 'RolledBack Warning', 'Rotated Normal']);
    assert.match(secret.events.find((e) => e.reason === 'RolledBack')!.message!, /^canceled; undone: /);
    const titiler = await newEvents(TITILER, seen);
    assert.deepEqual(titiler.lines, ['ConsumersRestarted Normal', 'ConsumersRestarted Warning']);

    const bodies = take();
    assert.deepEqual(bodies.map(summary).sort(), [
      'json canceled rotate-zone-serving',
      'slack RotateZone zone serving canceled',
    ]);
    const slack = bodies.find((b) => b.sink === 'slack')!.body as {
      blocks: Array<{ type: string; elements?: Array<{ text: string }> }>;
    };
    assert.equal(
      slack.blocks.at(-1)!.elements![0]!.text,
      `<${link('rotate-zone-serving', handle.firstExecutionRunId)}|Open rotate-zone-serving (run ${handle.firstExecutionRunId}) in the Temporal Web UI>`,
    );
    await scanAll(['rotate-zone-serving'], bodies, [...secret.events, ...titiler.events]);
  });

  test('a sink down for one attempt: the retry tells it once more and tells no other sink twice', async () => {
    const seen = await snapshot([SERVING_SECRET]);
    const handle = await rotator.client.workflow.start('RotateZone', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-zone-serving',
      args: [{ zone: 'serving', grace: '1h' }],
    });
    await waitPhase(handle, 'waiting-grace');
    requests.splice(0, requests.length);
    refuseJson = 1;
    await handle.cancel();
    await assert.rejects(handle.result());
    // The run ends after its announcements, the retried one included.
    assert.deepEqual([...requests].sort(), ['json', 'json', 'slack']);
    assert.equal(refuseJson, 0);
    assert.deepEqual(take().map(summary).sort(), [
      'json canceled rotate-zone-serving',
      'slack RotateZone zone serving canceled',
    ]);
    // The Events of that announcement were recorded by the first attempt and not again.
    const secret = await newEvents(SERVING_SECRET, seen);
    assert.deepEqual(secret.lines, ['ConsumersRestarted Normal', 'RolledBack Warning', 'Rotated Normal']);
    // ActivityTaskStarted is written once per activity, with the attempt that ended it.
    const attempts = ((await handle.fetchHistory()).events ?? []).flatMap((e) =>
      e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : [],
    );
    assert.ok(attempts.includes(2), `an announce activity was retried (attempts ${attempts.join(',')})`);
  });

  test('RotateRoot awaiting approval → paused → rollback: each told with its deadline and commands; RootRotationPaused, RolledBack', async () => {
    const before = creds(await readSecretData(stack, 'dashi-platform', 'rustfs-root'));
    const seen = await snapshot([ROOT_SECRET, STORE]);
    // The store stays down past the restart window, until the rollback's restart replaces its pod.
    await agent.hold();
    const handle = await rotator.client.workflow.start('RotateRoot', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-root',
      args: [{ restartTimeout: '3s', pauseTimeout: '10m' }],
    });
    await waitPhase(handle, 'awaiting-approval');
    const approval = await eventually('the approval request at both sinks', async () =>
      received.length >= 2 ? take() : undefined,
    );
    assert.deepEqual(approval.map(summary).sort(), [
      'json awaiting-approval rotate-root',
      'slack RotateRoot awaits approval',
    ]);
    const approvalJson = approval.find((b) => b.sink === 'json')!.body;
    assert.deepEqual(approvalJson.commands, [
      'rotator approve rotate-root --by <you> --reason <change ticket>',
    ]);

    await handle.executeUpdate(approveUpdate, { args: [{ by: 'e2e-oncall' }] });
    await waitPhase(handle, 'paused');
    await agent.held();
    const pause = await eventually('the pause at both sinks', async () =>
      received.length >= 2 ? take() : undefined,
    );
    assert.deepEqual(pause.map(summary).sort(), ['json paused rotate-root', 'slack RotateRoot PAUSED']);
    const pauseJson = pause.find((b) => b.sink === 'json')!.body as {
      deadline: { at: string; what: string };
      commands: string[];
    };
    assert.equal(pauseJson.deadline.what, 'automatic rollback to the previous root');
    const rollbackIn = Date.parse(pauseJson.deadline.at) - Date.now();
    assert.ok(rollbackIn > 8 * 60_000 && rollbackIn <= 10 * 60_000, `automatic rollback in ${rollbackIn} ms`);
    assert.deepEqual(pauseJson.commands, [
      'rotator resume rotate-root --by <you> --reason <why>',
      'rotator rollback rotate-root --by <you> --reason <why>',
    ]);
    const paused = await newEvents(ROOT_SECRET, seen);
    assert.deepEqual(paused.lines, ['RootRotationPaused Warning']);
    await collectSecretValues(stack, secrets);

    await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'e2e-oncall', reason: 'test' }] });
    await assert.rejects(handle.result());
    const root = await newEvents(ROOT_SECRET, seen);
    assert.deepEqual(root.lines, ['RolledBack Warning', 'RootRotationPaused Warning']);
    assert.match(
      root.events.find((e) => e.reason === 'RolledBack')!.message!,
      /rollback requested by e2e-oncall: test/,
    );
    const store = await newEvents(STORE, seen);
    assert.deepEqual(store.lines, ['ConsumersRestarted Warning']);
    const end = take();
    assert.deepEqual(end.map(summary).sort(), [
      'json rolled-back rotate-root',
      'slack RotateRoot rolled back',
    ]);
    await eventually(
      'the old root to work again',
      async () => (await adminWorks(stack, before)) === true,
      60_000,
    );
    await scanAll(['rotate-root'], [...approval, ...pause, ...end], [...root.events, ...store.events]);
  });

  test('RotateRoot completed: Rotated on the root Secret, ConsumersRestarted on the store', async () => {
    const seen = await snapshot([ROOT_SECRET, STORE]);
    const handle = await rotator.client.workflow.start('RotateRoot', {
      taskQueue: rotator.taskQueue,
      workflowId: 'rotate-root',
      args: [{ approve: true, restartTimeout: '60s' }],
    });
    await handle.result();
    const root = await newEvents(ROOT_SECRET, seen);
    assert.deepEqual(root.lines, ['Rotated Normal']);
    assert.match(
      root.events[0]!.message!,
      /now holds the new root sha256:[0-9a-f]{12} \(access key \S+\), replacing sha256:/,
    );
    const store = await newEvents(STORE, seen);
    assert.deepEqual(store.lines, ['ConsumersRestarted Normal']);
    const bodies = take();
    assert.deepEqual(bodies.map(summary), ['json completed rotate-root']);
    await scanAll(['rotate-root'], bodies, [...root.events, ...store.events]);
  });
});
