import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { describeConfig, loadWorkerConfig, WorkerConfigError } from '../../src/worker/config';
import { jsonLogger, redact } from '../../src/worker/log';

const ROOT = path.join(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'worker-config-'));
const inventory = path.join(ROOT, 'config', 'dashi.yaml');
const kubeconfig = path.join(dir, 'kubeconfig');
fs.writeFileSync(
  kubeconfig,
  'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
);
const cert = path.join(dir, 'client.pem');
fs.writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const key = path.join(dir, 'client.key');
fs.writeFileSync(key, '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
const notPem = path.join(dir, 'not.pem');
fs.writeFileSync(notPem, 'hello');

/** A valid environment; each test breaks one thing. */
const valid = (): NodeJS.ProcessEnv => ({
  ROTATOR_CONFIG: inventory,
  KUBECONFIG: kubeconfig,
  ROTATOR_CODEC_KEY: randomBytes(32).toString('base64'),
});

async function problems(env: NodeJS.ProcessEnv): Promise<string[]> {
  try {
    await loadWorkerConfig(env);
  } catch (err) {
    assert.ok(err instanceof WorkerConfigError, `expected WorkerConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the configuration to be refused');
}

async function refuses(env: NodeJS.ProcessEnv, pattern: RegExp): Promise<void> {
  const p = await problems(env);
  assert.ok(
    p.some((x) => pattern.test(x)),
    `expected a problem matching ${pattern}, got:\n${p.join('\n')}`,
  );
}

describe('worker configuration', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('notification sinks: each urlFrom variable is checked at start-up, never shown; the Web UI URL', async () => {
    const withSinks = path.join(dir, 'sinks.yaml');
    fs.writeFileSync(
      withSinks,
      `${fs.readFileSync(inventory, 'utf8')}\nnotifications:\n  - {name: oncall, format: slack, urlFrom: {env: HOOK}}\n`,
    );
    const token = `T0/B0/${randomBytes(8).toString('hex')}`;
    const env = { ...valid(), ROTATOR_CONFIG: withSinks };
    await refuses(
      env,
      /^ROTATOR_CONFIG: notifications\[0\]\.urlFrom\.env: notification sink oncall: environment variable HOOK is not set$/,
    );
    const bad = await problems({ ...env, HOOK: `hooks.slack.com/services/${token}` });
    assert.ok(
      bad.some((p) => /HOOK is not an http\(s\) URL$/.test(p)),
      bad.join('\n'),
    );
    assert.ok(!bad.join('\n').includes(token));
    const c = await loadWorkerConfig({
      ...env,
      HOOK: `https://hooks.slack.com/services/${token}`,
      ROTATOR_WEB_UI_URL: 'https://temporal.example/ui',
    });
    assert.equal(c.webUiUrl, 'https://temporal.example/ui');
    const described = JSON.stringify(describeConfig(c));
    assert.ok(
      described.includes(
        'oncall (slack: awaiting-approval, paused, failed, rolled-back, canceled, escalated)',
      ),
    );
    assert.ok(!described.includes(token));
    await refuses(
      { ...valid(), ROTATOR_WEB_UI_URL: 'localhost:8233' },
      /^ROTATOR_WEB_UI_URL: expected the http\(s\) base URL/,
    );
  });

  test('a valid environment gives defaults and a log description without secrets', async () => {
    const apiKey = `key-${randomBytes(8).toString('hex')}`;
    const codecKey = randomBytes(32).toString('base64');
    const c = await loadWorkerConfig({
      ...valid(),
      TEMPORAL_ADDRESS: 'rotator.abc12.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'rotator.abc12',
      TEMPORAL_API_KEY: apiKey,
      ROTATOR_CODEC_KEY: codecKey,
    });
    assert.equal(c.temporal.taskQueue, 'rustfs-rotator');
    assert.equal(c.temporal.apiKey, apiKey);
    assert.ok(c.temporal.tls, 'an API key implies TLS');
    assert.ok(c.codec);
    assert.equal(c.shutdownGraceMs, 30_000);
    assert.deepEqual(c.kube, { kubeconfig });
    const text = JSON.stringify(describeConfig(c));
    assert.ok(!text.includes(apiKey) && !text.includes(codecKey), 'no secret in the start-up log');
    assert.match(text, /"apiKey":"set"/);
    const defaults = await loadWorkerConfig(valid());
    assert.equal(defaults.temporal.address, 'localhost:7233');
    assert.equal(defaults.temporal.namespace, 'default');
    assert.equal(defaults.temporal.tls, undefined);
  });

  test('mTLS: cert and key are read and imply TLS', async () => {
    const c = await loadWorkerConfig({ ...valid(), TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key });
    assert.ok(c.temporal.tls !== true && c.temporal.tls?.clientCertPair);
    assert.equal(describeConfig(c).temporal && (describeConfig(c).temporal as { tls: string }).tls, 'mTLS');
  });

  test('in a pod without KUBECONFIG the ServiceAccount is used', async () => {
    const c = await loadWorkerConfig({
      ROTATOR_CONFIG: inventory,
      KUBERNETES_SERVICE_HOST: '10.0.0.1',
      ROTATOR_CODEC_DISABLED: 'true',
    });
    assert.deepEqual(c.kube, { inCluster: true });
  });

  test('missing ROTATOR_CONFIG', () => refuses({ KUBECONFIG: kubeconfig }, /^ROTATOR_CONFIG: not set/));
  test('unreadable inventory', () =>
    refuses(
      { ...valid(), ROTATOR_CONFIG: path.join(dir, 'nope.yaml') },
      /^ROTATOR_CONFIG: [\s\S]*cannot read the inventory file/,
    ));
  test('invalid inventory names file and field', async () => {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'store:\n  kind: s3\nzones: []\n');
    await refuses(
      { ...valid(), ROTATOR_CONFIG: bad },
      /ROTATOR_CONFIG: Invalid rotator inventory .*bad\.yaml[\s\S]*kind/,
    );
  });
  test('bad TEMPORAL_ADDRESS', () =>
    refuses({ ...valid(), TEMPORAL_ADDRESS: 'http://localhost' }, /^TEMPORAL_ADDRESS: expected host:port/));
  test('bad TEMPORAL_NAMESPACE', () =>
    refuses(
      { ...valid(), TEMPORAL_NAMESPACE: 'no spaces please' },
      /^TEMPORAL_NAMESPACE: expected a namespace name/,
    ));
  test('empty TEMPORAL_TASK_QUEUE', () =>
    refuses(
      { ...valid(), TEMPORAL_TASK_QUEUE: ' ' },
      /^TEMPORAL_TASK_QUEUE: expected a task queue name, got an empty value/,
    ));
  test('TLS cert without key', () =>
    refuses({ ...valid(), TEMPORAL_TLS_CERT: cert }, /^TEMPORAL_TLS_KEY: not set, but TEMPORAL_TLS_CERT is/));
  test('TLS key without cert', () =>
    refuses({ ...valid(), TEMPORAL_TLS_KEY: key }, /^TEMPORAL_TLS_CERT: not set, but TEMPORAL_TLS_KEY is/));
  test('unreadable TLS cert', () =>
    refuses(
      { ...valid(), TEMPORAL_TLS_CERT: path.join(dir, 'missing.pem'), TEMPORAL_TLS_KEY: key },
      /^TEMPORAL_TLS_CERT: cannot read client certificate .*ENOENT/,
    ));
  test('TLS cert that is not PEM', () =>
    refuses(
      { ...valid(), TEMPORAL_TLS_CERT: notPem, TEMPORAL_TLS_KEY: key },
      /^TEMPORAL_TLS_CERT: .* is not a PEM certificate/,
    ));
  test('TLS key that is not PEM', () =>
    refuses(
      { ...valid(), TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: notPem },
      /^TEMPORAL_TLS_KEY: .* is not a PEM private key/,
    ));
  test('unreadable TLS CA', () =>
    refuses(
      { ...valid(), TEMPORAL_TLS_CA: path.join(dir, 'ca.pem') },
      /^TEMPORAL_TLS_CA: cannot read CA bundle/,
    ));
  test('TEMPORAL_TLS not a boolean', () =>
    refuses({ ...valid(), TEMPORAL_TLS: 'yes' }, /^TEMPORAL_TLS: expected "true" or "false"/));
  test('TEMPORAL_TLS=false with an API key', () =>
    refuses(
      { ...valid(), TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' },
      /^TEMPORAL_TLS: "false" contradicts/,
    ));
  test('codec key of the wrong length', () =>
    refuses(
      { ...valid(), ROTATOR_CODEC_KEY: Buffer.alloc(16).toString('base64') },
      /ROTATOR_CODEC_KEY must be base64 of exactly 32 bytes \(got 16\)/,
    ));
  test('KUBECONFIG that does not exist', () =>
    refuses(
      { ...valid(), KUBECONFIG: path.join(dir, 'missing-kubeconfig') },
      /^KUBECONFIG: .*does not exist/,
    ));
  test('no kubeconfig outside a pod', () =>
    refuses({ ROTATOR_CONFIG: inventory }, /^KUBECONFIG: not set and not running in a pod/));
  test('in-cluster forced outside a pod', () =>
    refuses(
      { ...valid(), ROTATOR_KUBE_IN_CLUSTER: 'true' },
      /^ROTATOR_KUBE_IN_CLUSTER: "true" but this process is not in a pod/,
    ));

  test('ROTATOR_STORE_ADMIN_ENDPOINT: plain http:// to a non-loopback host only when the inventory allows it', async () => {
    const strict = path.join(dir, 'strict.yaml');
    const text = fs.readFileSync(inventory, 'utf8');
    assert.match(text, /\n {2}allowInsecureAdmin: true\n/);
    fs.writeFileSync(
      strict,
      text
        .replace('\n  allowInsecureAdmin: true\n', '\n')
        .replace('endpoint: http://rustfs.', 'endpoint: https://rustfs.'),
    );
    await refuses(
      { ...valid(), ROTATOR_CONFIG: strict, ROTATOR_STORE_ADMIN_ENDPOINT: 'http://10.0.0.7:9000' },
      /^ROTATOR_STORE_ADMIN_ENDPOINT: expected https:\/\/ for the store's admin API, got plain http:\/\/ to the non-loopback host 10\.0\.0\.7:9000 .*store\.allowInsecureAdmin: true/,
    );
    const local = await loadWorkerConfig({
      ...valid(),
      ROTATOR_CONFIG: strict,
      ROTATOR_STORE_ADMIN_ENDPOINT: 'http://127.0.0.1:9000',
    });
    assert.equal(local.storeAdminEndpoint, 'http://127.0.0.1:9000');
    // config/dashi.yaml states allowInsecureAdmin: true (its in-cluster Service is http://).
    const allowed = await loadWorkerConfig({
      ...valid(),
      ROTATOR_STORE_ADMIN_ENDPOINT: 'http://10.0.0.7:9000',
    });
    assert.equal(allowed.storeAdminEndpoint, 'http://10.0.0.7:9000');
  });

  test('bad ROTATOR_STORE_ADMIN_ENDPOINT', () =>
    refuses(
      { ...valid(), ROTATOR_STORE_ADMIN_ENDPOINT: 'http://admin:pw@rustfs:9000' },
      /^ROTATOR_STORE_ADMIN_ENDPOINT: expected an http\(s\) URL/,
    ));
  test('bad ROTATOR_LOG_LEVEL', () =>
    refuses(
      { ...valid(), ROTATOR_LOG_LEVEL: 'verbose' },
      /^ROTATOR_LOG_LEVEL: expected one of debug, info, warn, error, got "verbose"/,
    ));
  test('bad ROTATOR_SHUTDOWN_GRACE', () =>
    refuses({ ...valid(), ROTATOR_SHUTDOWN_GRACE: '30' }, /^ROTATOR_SHUTDOWN_GRACE: expected a duration/));
  test('bad ROTATOR_METRICS_ADDRESS', () =>
    refuses({ ...valid(), ROTATOR_METRICS_ADDRESS: '9464' }, /^ROTATOR_METRICS_ADDRESS: expected host:port/));
  test('ROTATOR_METRICS_ADDRESS turns metrics on; unset they are off', async () => {
    const on = await loadWorkerConfig({ ...valid(), ROTATOR_METRICS_ADDRESS: '0.0.0.0:9464' });
    assert.equal(on.metricsAddress, '0.0.0.0:9464');
    assert.equal(describeConfig(on).metrics, '0.0.0.0:9464');
    assert.equal((await loadWorkerConfig(valid())).metricsAddress, undefined);
  });
  test('bad ROTATOR_METRICS_CACHE_TTL', () =>
    refuses(
      { ...valid(), ROTATOR_METRICS_CACHE_TTL: '5' },
      /^ROTATOR_METRICS_CACHE_TTL: expected a duration like "5s" or "500ms"/,
    ));
  test('ROTATOR_METRICS_CACHE_TTL sets how long a collection is reused; 5 s by default', async () => {
    assert.equal((await loadWorkerConfig(valid())).metricsCacheTtlMs, 5000);
    const short = await loadWorkerConfig({ ...valid(), ROTATOR_METRICS_CACHE_TTL: '250ms' });
    assert.equal(short.metricsCacheTtlMs, 250);
    assert.equal(
      (await loadWorkerConfig({ ...valid(), ROTATOR_METRICS_CACHE_TTL: '0s' })).metricsCacheTtlMs,
      0,
    );
  });
  test('no codec key: refused, naming the variable and the explicit opt-out, unless ROTATOR_CODEC_DISABLED=true', async () => {
    const { ROTATOR_CODEC_KEY: _key, ...noKey } = valid();
    const p = await problems(noKey);
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(
      p[0]!,
      /^ROTATOR_CODEC_KEY: not set, so workflow payloads would reach Temporal unencrypted; .*openssl rand -base64 32.*or set ROTATOR_CODEC_DISABLED=true to run without encryption/,
    );
    // compose's old `${ROTATOR_CODEC_KEY:-}`: an empty key is no key.
    await refuses({ ...noKey, ROTATOR_CODEC_KEY: '' }, /^ROTATOR_CODEC_KEY: empty, so workflow payloads/);
    await refuses({ ...noKey, ROTATOR_CODEC_DISABLED: 'false' }, /^ROTATOR_CODEC_KEY: not set/);
    await refuses(
      { ...noKey, ROTATOR_CODEC_DISABLED: 'yes' },
      /^ROTATOR_CODEC_DISABLED: expected "true" or "false"/,
    );
    // Stated: runs without encryption, and says so at start-up.
    const off = await loadWorkerConfig({ ...noKey, ROTATOR_CODEC_DISABLED: 'true' });
    assert.equal(off.codec, undefined);
    assert.match(String(describeConfig(off).payloadCodec), /^off \(ROTATOR_CODEC_DISABLED=true/);
    // A key and the opt-out together is a mistake, not a choice.
    await refuses(
      { ...valid(), ROTATOR_CODEC_DISABLED: 'true' },
      /^ROTATOR_CODEC_DISABLED: "true" contradicts ROTATOR_CODEC_KEY/,
    );
    // A sandbox brings its own key: no variable needed.
    const state = path.join(dir, 'sandbox-state.json');
    fs.writeFileSync(
      state,
      JSON.stringify({
        dir,
        inventory,
        temporal: { address: '127.0.0.1:7233', namespace: 'default', uiUrl: 'http://127.0.0.1:8233' },
        kube: { kubeconfig },
        codec: {
          keyId: 'sandbox',
          key: randomBytes(32).toString('base64'),
          endpoint: 'http://127.0.0.1:1/x',
        },
      }),
    );
    const sandboxed = await loadWorkerConfig({ ROTATOR_SANDBOX_STATE: state });
    assert.ok(sandboxed.codec);
  });

  test('the connection follows the one rule: a named sandbox over the environment, the environment over the config file', async () => {
    const state = path.join(dir, 'rule-state.json');
    fs.writeFileSync(
      state,
      JSON.stringify({
        dir,
        inventory,
        temporal: { address: '127.0.0.1:7999', namespace: 'sandbox-ns' },
        kube: { kubeconfig },
      }),
    );
    const toml = path.join(dir, 'rule.toml');
    fs.writeFileSync(
      toml,
      '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "prod-ns"\napi_key = "file-key"\n',
    );
    const sandboxed = await loadWorkerConfig({
      ...valid(),
      ROTATOR_SANDBOX_STATE: state,
      TEMPORAL_ADDRESS: 'cloud.example:7233',
      TEMPORAL_API_KEY: 'env-key',
    });
    assert.equal(sandboxed.temporal.address, '127.0.0.1:7999', 'the named sandbox, not the environment');
    assert.equal(sandboxed.temporal.namespace, 'sandbox-ns');
    assert.equal(sandboxed.temporal.apiKey, undefined, 'Cloud credentials are not sent to the sandbox');
    const profiled = await loadWorkerConfig({
      ...valid(),
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'env-ns',
    });
    assert.equal(profiled.temporal.address, 'prod.example:7233', 'the profile of the config file');
    assert.equal(profiled.temporal.namespace, 'env-ns', 'the environment over the profile');
    assert.equal(profiled.temporal.apiKey, 'file-key');
    assert.equal(profiled.temporal.tls, true, 'an API key implies TLS');
    await refuses(
      { ...valid(), TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' },
      /^TEMPORAL_CONFIG_FILE \(.*rule\.toml\): Profile 'staging' not found/,
    );
  });

  test('sandbox state file that does not exist', () =>
    refuses(
      { ROTATOR_SANDBOX_STATE: path.join(dir, 'state.json') },
      /^ROTATOR_SANDBOX_STATE: cannot read the sandbox state/,
    ));

  test('every problem is reported at once', async () => {
    const p = await problems({ TEMPORAL_ADDRESS: 'nope', ROTATOR_LOG_LEVEL: 'loud' });
    assert.equal(p.length, 2, p.join('\n'));
  });

  test('the worker process exits 78 (EX_CONFIG) with the problems on stderr', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: dir, TEMPORAL_API_KEY: 'super-secret-api-key-value' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr, /invalid configuration \(3 problems\)/);
    assert.match(r.stderr, /ROTATOR_CONFIG: not set/);
    assert.match(r.stderr, /ROTATOR_CODEC_KEY: not set/);
    assert.match(r.stderr, /KUBECONFIG: not set/);
    assert.ok(!r.stderr.includes('super-secret-api-key-value'));
    const line = r.stderr.split('\n').find((l) => l.startsWith('{'))!;
    assert.equal(JSON.parse(line).level, 'error', 'structured log line');
  });
});

describe('worker logs', () => {
  test('JSON lines with level filtering and redaction of secret-looking fields', () => {
    const lines: string[] = [];
    const log = jsonLogger('info', (l) => lines.push(l));
    log.debug('hidden');
    log.info('hello', { secretKey: 'abc', nested: { apiKey: 'k', ok: 1 }, error: new Error('boom') });
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.msg, 'hello');
    assert.equal(entry.level, 'info');
    assert.equal(entry.secretKey, '[redacted]');
    assert.deepEqual(entry.nested, { apiKey: '[redacted]', ok: 1 });
    assert.deepEqual(entry.error, { name: 'Error', message: 'boom' });
    assert.deepEqual(redact({ apiKey: 'set' }), { apiKey: 'set' });
  });
});
