// Runs started from the Temporal Web UI, inspected with `rotator history`. No browser: the
// test sends exactly the HTTP requests the UI's Start Workflow form and its "Send an
// Update" dialog send (temporalio/ui v2.42.1, the UI the Temporal CLI v1.5.1 dev server
// embeds) to the sandbox's real UI server:
//
// - src/lib/services/workflow-service.ts startWorkflow(): POST
//   /api/v1/namespaces/<ns>/workflows/<workflowId> with {workflowId, taskQueue: {name},
//   workflowType: {name}, input: {payloads} | null, userMetadata, searchAttributes: null}
//   and NO identity unless the UI has a logged-in user (getIdentity() = authUser.email);
// - src/lib/utilities/encode-payload.ts encodePayloads(): the form's text is JSON.parse'd
//   into ONE payload {metadata: {encoding: base64("json/plain")}, data: base64(JSON)} and,
//   when the UI server's settings name a codec endpoint (the sandbox's do), POSTed to
//   <codec>/encode with X-Namespace first — so the input arrives encrypted;
// - src/lib/utilities/request-from-api.ts: header Caller-Type: operator, and the CSRF token
//   from the _csrf cookie echoed in X-CSRF-TOKEN (the UI server's echo CSRF middleware);
//   a string body, so the browser's Content-Type text/plain;charset=UTF-8;
//   (Checked once against the real UI in headless Chromium, recording its requests: the
//   same paths, headers and bodies; this test is what runs in CI.)
// - updateWorkflow(): POST .../workflows/<id>/update/<name> with {workflowExecution: {runId},
//   request: {meta: {updateId}, input: {args: {payloads}}}}, payloads encoded as above.
//
// PRIVATE (scripts/test-lanes.mjs): the runs, their locks and the zones they rotate are in a
// dashi platform and Temporal namespace of this file's own (test/support/private-sandbox.ts),
// reached through the sandbox's one UI server and codec server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type Timeline } from '../../src/cli/history';
import { type SandboxState } from '../../src/sandbox/state';
import { statusQuery } from '../../src/workflows/definitions';
import { type WorkflowResult } from '../../src/workflows/types';
import { json, runCli, startCliWorker, type CliFixture } from '../support/cli';
import { eventually } from '../support/kube';
import { collectSecretValues } from '../support/rotator';
import { privateSandbox, type PrivateSandbox } from '../support/private-sandbox';
import { getStack } from '../support/stack';

const shared = getStack();
let box: PrivateSandbox;
let stack: SandboxState;
/** The Temporal namespace the UI's requests name: the private sandbox's. */
let NS: string;
let fx: CliFixture;
const cli = (...args: string[]) => runCli(args, fx.env);

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/** The browser side of the Web UI, request for request. */
class WebUi {
  private csrf = '';
  settings: {
    Codec?: { Endpoint?: string };
    StartWorkflowDisabled?: boolean;
    DisableWriteActions?: boolean;
  } = {};

  constructor(readonly base: string) {}

  /** What the UI loads first: /api/v1/settings (which also hands out the _csrf cookie). */
  async open(): Promise<void> {
    const res = await fetch(`${this.base}/api/v1/settings`);
    assert.equal(res.status, 200);
    this.settings = (await res.json()) as typeof this.settings;
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('_csrf='));
    assert.ok(cookie, 'the UI server sets the _csrf cookie the UI echoes in X-CSRF-TOKEN');
    this.csrf = cookie.slice('_csrf='.length).split(';')[0]!;
  }

  /** encodePayloads(): one json/plain payload, then through the codec server if the settings name one. */
  async encode(input: string): Promise<JsonPayload[] | null> {
    if (!input) return null;
    const payloads: JsonPayload[] = [
      { metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(JSON.parse(input))) },
    ];
    const endpoint = this.settings.Codec?.Endpoint;
    if (!endpoint) return payloads;
    const res = await fetch(`${endpoint}/encode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': NS },
      body: JSON.stringify({ payloads }),
    });
    assert.equal(res.status, 200, `codec server /encode: ${res.status}`);
    return ((await res.json()) as { payloads: JsonPayload[] }).payloads;
  }

  private async post(
    route: string,
    body: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${this.base}/api/v1${route}`, {
      method: 'POST',
      headers: {
        'Caller-Type': 'operator',
        'X-CSRF-TOKEN': this.csrf,
        Cookie: `_csrf=${this.csrf}`,
        'Content-Type': 'text/plain;charset=UTF-8',
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /**
   * The Start Workflow form's "Start Workflow" button. `searchAttributes` are the form's
   * "More options" rows (prefilled from the last run of the ID when the form is opened
   * with ?workflowId=…&workflowType=…, or by "Start Workflow Like This One").
   */
  async startWorkflow(form: {
    workflowId: string;
    taskQueue: string;
    workflowType: string;
    input: string;
    searchAttributes?: Record<string, string>;
  }) {
    const payloads = await this.encode(form.input);
    const attributes = Object.entries(form.searchAttributes ?? {});
    return this.post(
      // toURL() appends the (empty) query string: a trailing "?".
      `/namespaces/${encodeURIComponent(NS)}/workflows/${encodeURIComponent(form.workflowId)}?`,
      {
        workflowId: form.workflowId,
        taskQueue: { name: form.taskQueue },
        workflowType: { name: form.workflowType },
        input: payloads ? { payloads } : null,
        userMetadata: {},
        searchAttributes: attributes.length
          ? {
              indexedFields: Object.fromEntries(
                attributes.map(([k, v]) => [
                  k,
                  { metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(v)) },
                ]),
              ),
            }
          : null,
      },
    );
  }

  /** More actions → Send an Update, on the run's page. */
  async sendUpdate(workflowId: string, runId: string, name: string, input: string) {
    const payloads = await this.encode(input);
    return this.post(
      `/namespaces/${encodeURIComponent(NS)}/workflows/${encodeURIComponent(workflowId)}/update/${encodeURIComponent(name)}?`,
      {
        workflowExecution: { runId },
        request: { meta: { updateId: randomUUID() }, input: { args: { payloads } } },
      },
    );
  }

  /** The workflow list with a query in the filter box. */
  async list(query: string): Promise<Array<{ execution: { workflowId: string; runId: string } }>> {
    const res = await fetch(
      `${this.base}/api/v1/namespaces/${encodeURIComponent(NS)}/workflows?${new URLSearchParams({ query })}`,
      { headers: { 'Caller-Type': 'operator' } },
    );
    assert.equal(res.status, 200);
    return ((await res.json()) as { executions?: [] }).executions ?? [];
  }
}

const ui = new WebUi(shared.temporal.uiUrl);

/** Submits the Start Workflow form; the server must accept it. Returns the new run's ID. */
async function startFromForm(form: Parameters<WebUi['startWorkflow']>[0]): Promise<string> {
  const started = await ui.startWorkflow(form);
  assert.equal(started.status, 200, JSON.stringify(started.body));
  return String(started.body.runId);
}

async function resultOf(workflowId: string, runId: string): Promise<WorkflowResult> {
  return fx.worker.client.workflow.getHandle(workflowId, runId).result() as Promise<WorkflowResult>;
}

/** The run's start-event input exactly as the server stored it, and in the codec protocol's JSON. */
async function storedInput(workflowId: string, runId: string) {
  const history = await fx.worker.client.workflow.getHandle(workflowId, runId).fetchHistory();
  const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  const entries = Object.entries(payload.metadata ?? {});
  return {
    meta: Object.fromEntries(entries.map(([k, v]) => [k, Buffer.from(v).toString('utf8')])),
    json: {
      metadata: Object.fromEntries(entries.map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(payload.data!).toString('base64'),
    },
  };
}

describe('starting runs from the Temporal Web UI, inspecting them with rotator history', () => {
  before(async () => {
    // A worker holding the sandbox's codec key: the key the UI encrypts the form's input with.
    box = await privateSandbox(shared, 'web-ui-start');
    stack = box.state;
    NS = stack.temporal.namespace;
    fx = await startCliWorker(stack, { grace: '0s', codec: 'sandbox', sandbox: box });
    await ui.open();
  });
  after(async () => {
    await fx?.close();
    await box?.close();
  });

  test('the UI can start workflows and routes payloads through the sandbox codec server, which a browser may call', async () => {
    assert.equal(ui.settings.Codec?.Endpoint, stack.codec.endpoint);
    assert.equal(ui.settings.StartWorkflowDisabled, false);
    assert.equal(ui.settings.DisableWriteActions, false);
    // The form's page is served (the UI is a single-page app; this is its shell).
    const page = await fetch(`${stack.temporal.uiUrl}/namespaces/${NS}/workflows/start-workflow`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    // The browser preflights the cross-origin codec call (JSON body, X-Namespace header).
    const preflight = await fetch(`${stack.codec.endpoint}/encode`, {
      method: 'OPTIONS',
      headers: {
        Origin: stack.temporal.uiUrl,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type,x-namespace',
      },
    });
    assert.equal(preflight.status, 204);
    const allowOrigin = preflight.headers.get('access-control-allow-origin');
    assert.ok(allowOrigin === '*' || allowOrigin === stack.temporal.uiUrl, `allow-origin ${allowOrigin}`);
    const allowHeaders = preflight.headers.get('access-control-allow-headers') ?? '';
    for (const h of ['content-type', 'x-namespace']) assert.match(allowHeaders, new RegExp(h, 'i'));
  });

  test('BootstrapCluster {} from the form completes; history says the Web UI triggered it', async () => {
    const runId = await startFromForm({
      workflowId: 'bootstrap-cluster',
      taskQueue: fx.taskQueue,
      workflowType: 'BootstrapCluster',
      input: '{}',
    });
    assert.equal((await resultOf('bootstrap-cluster', runId)).outcome, 'completed');
    const t = json<Timeline>(await cli('history', 'bootstrap-cluster', '--json'));
    assert.equal(t.runId, runId);
    assert.equal(t.trigger.kind, 'web-ui');
    assert.equal(t.outcome, 'completed');
    assert.deepEqual(t.input, {});
  });

  test('RotateZone {"zone": "serving", "dryRun": true}: the plan; input stored encrypted by the codec server; history human and JSON', async () => {
    const input = '{ "zone": "serving", "dryRun": true }';
    const runId = await startFromForm({
      workflowId: 'rotate-zone-serving',
      taskQueue: fx.taskQueue,
      workflowType: 'RotateZone',
      input,
    });
    const result = await resultOf('rotate-zone-serving', runId);
    assert.equal(result.outcome, 'planned');
    assert.equal(result.plan?.zone, 'serving');

    // The UI sent the input through the codec server: encrypted at rest, with the sandbox key.
    const stored = await storedInput('rotate-zone-serving', runId);
    assert.equal(stored.meta.encoding, 'binary/encrypted');
    assert.equal(stored.meta['encryption-key-id'], stack.codec.keyId);
    const decoded = await fetch(`${stack.codec.endpoint}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': NS },
      body: JSON.stringify({ payloads: [stored.json] }),
    });
    assert.equal(decoded.status, 200);
    const [plain] = ((await decoded.json()) as { payloads: JsonPayload[] }).payloads;
    assert.equal(unb64(plain!.metadata.encoding!), 'json/plain');
    assert.deepEqual(JSON.parse(unb64(plain!.data)), { zone: 'serving', dryRun: true });

    const human = await cli('history', 'rotate-zone-serving');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`RotateZone rotate-zone-serving \\(run ${runId}\\)`));
    assert.match(human.stdout, /triggered by: Temporal Web UI\n/);
    assert.match(human.stdout, /input: {8}\{"zone":"serving","dryRun":true\}/);
    assert.match(human.stdout, /outcome: {6}completed/);
    const t = json<Timeline>(await cli('history', 'rotate-zone-serving', '--json'));
    assert.equal(t.trigger.kind, 'web-ui');
    assert.equal(t.trigger.identity, '', 'the form sends no identity without a logged-in user');
    assert.deepEqual(t.input, { zone: 'serving', dryRun: true });
  });

  test('RotateRoot {"dryRun": true} from the form: the plan, nothing changed', async () => {
    const result = await resultOf(
      'rotate-root',
      await startFromForm({
        workflowId: 'rotate-root',
        taskQueue: fx.taskQueue,
        workflowType: 'RotateRoot',
        input: '{ "dryRun": true }',
      }),
    );
    assert.equal(result.outcome, 'planned');
    assert.ok(result.plan!.actions.some((a) => a.action === 'restart'));
    const t = json<Timeline>(await cli('history', 'rotate-root', '--json'));
    assert.equal(t.trigger.kind, 'web-ui');
  });

  test('a loose input from the form fails at once with InvalidInput naming the field; nothing ran', async () => {
    const cases = [
      {
        workflowId: 'bootstrap-cluster',
        workflowType: 'BootstrapCluster',
        input: '{ "rotate": "false" }',
        message: /BootstrapCluster input: "rotate" expected true or false, got the string "false"/,
      },
      {
        workflowId: 'rotate-zone-serving',
        workflowType: 'RotateZone',
        input: '{ "zone": "serving", "stratgy": "in-place" }',
        message:
          /unknown key "stratgy" \(did you mean "strategy"\?\); known keys: zone, dryRun, strategy, grace, maxGrace/,
      },
      {
        workflowId: 'rotate-root',
        workflowType: 'RotateRoot',
        input: '{ "approve": "no" }',
        message: /RotateRoot input: "approve" expected true or false, got the string "no"/,
      },
    ];
    for (const c of cases) {
      const runId = await startFromForm({ ...c, taskQueue: fx.taskQueue });
      const failure = await resultOf(c.workflowId, runId).then(
        () => assert.fail(`${c.workflowType} ${c.input} completed`),
        (err: { cause?: { type?: string; message?: string; nonRetryable?: boolean } }) => err.cause,
      );
      assert.equal(failure?.type, 'InvalidInput', c.input);
      assert.equal(failure?.nonRetryable, true);
      assert.match(failure?.message ?? '', c.message);
      const history = await fx.worker.client.workflow.getHandle(c.workflowId, runId).fetchHistory();
      // Only the patch marker the strict check records: no activity, local activity, timer or child.
      const work = history.events!.filter(
        (e) =>
          e.activityTaskScheduledEventAttributes ||
          e.timerStartedEventAttributes ||
          e.startChildWorkflowExecutionInitiatedEventAttributes ||
          (e.markerRecordedEventAttributes && e.markerRecordedEventAttributes.markerName !== 'core_patch'),
      );
      assert.deepEqual(work, [], `${c.input}: nothing ran`);
      assert.ok(history.events!.at(-1)!.workflowExecutionFailedEventAttributes, 'the run failed');
      const t = json<Timeline>(await cli('history', c.workflowId, '--json'));
      assert.equal(t.runId, runId);
      assert.equal(t.outcome, 'failed');
      assert.match(t.outcomeDetail ?? '', c.message);
    }
  });

  test('the form prefilled from the last run (input and search attributes copied) starts the same way', async () => {
    const runId = await startFromForm({
      workflowId: 'rotate-zone-serving',
      taskQueue: fx.taskQueue,
      workflowType: 'RotateZone',
      input: '{\n  "zone": "serving",\n  "dryRun": true\n}',
      searchAttributes: { RotatorKind: 'RotateZone', RotatorZone: 'serving' },
    });
    assert.equal((await resultOf('rotate-zone-serving', runId)).outcome, 'planned');
    const t = json<Timeline>(await cli('history', 'rotate-zone-serving', '--json'));
    assert.equal(t.runId, runId);
    assert.equal(t.trigger.kind, 'web-ui');
    assert.deepEqual(t.input, { zone: 'serving', dryRun: true });
  });

  test('a real RotateZone from the form: the lock refuses a second start, the list filter finds it, Send an Update revokeNow ends the grace; history shows all of it', async () => {
    const input = '{ "zone": "serving", "grace": "1h" }';
    const runId = await startFromForm({
      workflowId: 'rotate-zone-serving',
      taskQueue: fx.taskQueue,
      workflowType: 'RotateZone',
      input,
    });
    const handle = fx.worker.client.workflow.getHandle('rotate-zone-serving', runId);
    await eventually(
      'the grace period',
      async () => (await handle.query(statusQuery)).phase === 'waiting-grace',
      120_000,
      500,
    );

    // "Use the fixed IDs: a second start of a running ID is refused by the server."
    const again = await ui.startWorkflow({
      workflowId: 'rotate-zone-serving',
      taskQueue: fx.taskQueue,
      workflowType: 'RotateZone',
      input,
    });
    assert.equal(again.status, 409, JSON.stringify(again.body));
    assert.match(String(again.body.message), /already running/i);

    // Filters typed into the list's query box (search attributes the workflow sets, with the
    // server's own ExecutionStatus) find the UI-started run.
    const filter = 'RotatorZone = "serving" AND ExecutionStatus = "Running"';
    for (const query of [filter, 'RotatorKind = "RotateZone"']) {
      await eventually(
        `the list filter ${query}`,
        async () => (await ui.list(query)).some((e) => e.execution.runId === runId),
        30_000,
        500,
      );
    }

    // Send an Update: name revokeNow, Data {"by": ..., "reason": ...}; history shows both below.
    const update = await ui.sendUpdate(
      'rotate-zone-serving',
      runId,
      'revokeNow',
      '{"by": "carol", "reason": "from the Web UI"}',
    );
    assert.equal(update.status, 200, JSON.stringify(update.body));
    const result = (await handle.result()) as WorkflowResult;
    assert.equal(result.outcome, 'completed');
    assert.ok(result.zones[0]?.revoked, 'the previous key was revoked');

    const human = await cli('history', 'rotate-zone-serving');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /triggered by: Temporal Web UI\n/);
    assert.match(human.stdout, /input: {8}\{"zone":"serving","grace":"1h"\}/);
    assert.match(human.stdout, /\[update\] update revokeNow\s+\(by carol, reason: from the Web UI\)/);
    assert.match(
      human.stdout,
      /\[grace\] grace period: the previous key stays valid .* ended by revokeNow from carol/,
    );
    // Each step, whether it ran as an activity or a local activity (a marker in history).
    assert.match(human.stdout, /✓ promoteZonePending[( ]/);
    assert.match(human.stdout, /✓ revokePrevious[( ]/);
    const jsonRun = await cli('history', 'rotate-zone-serving', '--json');
    const t = json<Timeline>(jsonRun);
    assert.equal(t.runId, runId);
    assert.equal(t.trigger.kind, 'web-ui');
    assert.equal(t.outcome, 'completed');
    assert.ok(
      t.entries.some((e) => e.kind === 'update' && e.by === 'carol' && e.reason === 'from the Web UI'),
    );
    // The activities' arguments (encrypted by the worker with the same key) are decoded too.
    const smoke = t.entries.filter((e) => e.kind === 'activity' && e.name.startsWith('smokeZone'));
    assert.ok(smoke.length >= 2 && smoke.every((e) => e.state === 'completed' && e.attempts === 1));

    // No secret value in what on-call reads.
    const secrets = await collectSecretValues(stack, undefined, [
      box.ns.platform,
      box.ns.data,
      box.ns.serving,
    ]);
    for (const out of [human.stdout, jsonRun.stdout]) {
      for (const s of secrets)
        if (s.length >= 8) assert.ok(!out.includes(s), 'a secret appears in history output');
    }
  });
});
