// Where the CLI connects and with what: Temporal by the rule the worker follows too, and
// the payload codec (its own key, the sandbox's key, or both).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { cliCodec, resolveConnection } from '../../src/cli/connection';
import { CliError } from '../../src/cli/output';
import { AesGcmCodec } from '../../src/temporal/codec';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-connection-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
const cert = file('client.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const key = file('client.key', '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n');
const sandboxKey = randomBytes(32);
const sandboxFile = file(
  'state.json',
  JSON.stringify({
    dir,
    inventory: path.join(dir, 'inventory.yaml'),
    temporal: { address: '127.0.0.1:7999', namespace: 'default', uiUrl: 'http://127.0.0.1:8999' },
    kube: { kubeconfig: path.join(dir, 'kubeconfig') },
    codec: { keyId: 'sandbox', key: sandboxKey.toString('base64'), endpoint: 'http://127.0.0.1:8998' },
  }),
);

function usageError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CliError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('CLI connection: Temporal by the one rule the worker follows too', () => {
  const tlsOf = (env: NodeJS.ProcessEnv) => resolveConnection({ json: false }, env).tls;

  test("mTLS pair, private CA and server name, by Temporal's variable names or the older aliases", () => {
    for (const env of [
      { TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca },
      {
        TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: key,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      },
    ]) {
      const tls = tlsOf({ ...env, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
      assert.ok(typeof tls === 'object');
      assert.equal(tls.clientCertPair?.crt.toString(), fs.readFileSync(cert, 'utf8'));
      assert.equal(tls.clientCertPair?.key.toString(), fs.readFileSync(key, 'utf8'));
      assert.equal(tls.serverRootCACertificate?.toString(), fs.readFileSync(ca, 'utf8'));
      assert.equal(tls.serverNameOverride, 'temporal.internal');
    }
    const conn = resolveConnection(
      { json: false },
      { TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key },
    );
    assert.equal(conn.address, 'ns.acct.tmprl.cloud:7233');
    assert.ok(typeof conn.tls === 'object' && conn.tls.clientCertPair);
  });

  test('API key or TEMPORAL_TLS=true: TLS with the system CAs; nothing set: plaintext', () => {
    assert.equal(tlsOf({ TEMPORAL_API_KEY: 'an-api-key' }), true);
    assert.equal(tlsOf({ TEMPORAL_TLS: 'true' }), true);
    assert.equal(tlsOf({}), false);
    const conn = resolveConnection({ json: false }, { TEMPORAL_API_KEY: 'k' });
    assert.equal(conn.apiKey, 'k');
    assert.equal(conn.tls, true);
  });

  test('a certificate without its key, an unreadable file, a bad TEMPORAL_TLS: a usage error naming the variable', () => {
    usageError(
      () => tlsOf({ TEMPORAL_TLS_CERT: cert }),
      /^TEMPORAL_TLS_KEY: not set, but TEMPORAL_TLS_CERT is/,
    );
    usageError(
      () => tlsOf({ TEMPORAL_TLS_CLIENT_KEY_PATH: key }),
      /^TEMPORAL_TLS_CLIENT_CERT_PATH: not set, but TEMPORAL_TLS_CLIENT_KEY_PATH is/,
    );
    usageError(
      () => tlsOf({ TEMPORAL_TLS_CA: path.join(dir, 'missing.pem') }),
      /^TEMPORAL_TLS_CA: cannot read .*missing\.pem \(ENOENT\)/,
    );
    usageError(() => tlsOf({ TEMPORAL_TLS: 'yes' }), /^TEMPORAL_TLS: expected "true" or "false"/);
    usageError(
      () => tlsOf({ TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_CLIENT_CERT_PATH: ca }),
      /^TEMPORAL_TLS_CERT: set to .* but TEMPORAL_TLS_CLIENT_CERT_PATH, which it is an alias of/,
    );
  });

  test("a sandbox's Temporal is plaintext: Cloud settings in the env are not sent to it", () => {
    const conn = resolveConnection(
      { json: false, sandbox: sandboxFile },
      { TEMPORAL_API_KEY: 'k', TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key },
    );
    assert.equal(conn.address, '127.0.0.1:7999');
    assert.equal(conn.tls, false);
    assert.equal(conn.apiKey, undefined);
  });

  test('flags over the environment over the profile of the Temporal config file over the defaults', () => {
    const toml = file(
      'temporal.toml',
      '[profile.default]\naddress = "file-default:7233"\n[profile.prod]\naddress = "prod:7233"\nnamespace = "prod-ns"\n' +
        '[profile.prod.grpc_meta]\nx-team = "platform"\n',
    );
    const env = { TEMPORAL_CONFIG_FILE: toml };
    assert.equal(resolveConnection({ json: false }, env).address, 'file-default:7233', 'the default profile');
    const prod = resolveConnection({ json: false, profile: 'prod' }, env);
    assert.equal(prod.address, 'prod:7233');
    assert.equal(prod.namespace, 'prod-ns');
    assert.deepEqual(prod.grpcMeta, { 'x-team': 'platform' });
    const viaEnv = resolveConnection(
      { json: false },
      { ...env, TEMPORAL_PROFILE: 'prod', TEMPORAL_NAMESPACE: 'env-ns' },
    );
    assert.equal(viaEnv.address, 'prod:7233');
    assert.equal(viaEnv.namespace, 'env-ns', 'the environment over the profile');
    const flagged = resolveConnection({ json: false, profile: 'prod', address: 'flag:7233' }, env);
    assert.equal(flagged.address, 'flag:7233', 'a flag over everything');
    assert.equal(flagged.namespace, 'prod-ns');
    const none = resolveConnection({ json: false }, {});
    assert.equal(none.address, 'localhost:7233');
    assert.equal(none.namespace, 'default');
    usageError(
      () => resolveConnection({ json: false, profile: 'staging' }, env),
      /^TEMPORAL_CONFIG_FILE \(.*temporal\.toml\): Profile 'staging' not found/,
    );
  });
});

describe('CLI connection: payload codec', () => {
  const payload = () => defaultPayloadConverter.toPayload({ zone: 'serving', dryRun: true });
  const sandboxOnly = new AesGcmCodec(new Map([['sandbox', sandboxKey]]), 'sandbox');

  test("--sandbox alone: the sandbox's key, which its codec server (and so the Web UI) uses", async () => {
    const conn = resolveConnection({ json: false, sandbox: sandboxFile }, {});
    assert.ok(conn.codec);
    const [encoded] = await conn.codec.encode([payload()]);
    assert.equal(Buffer.from(encoded!.metadata!['encryption-key-id']!).toString(), 'sandbox');
    const [decoded] = await sandboxOnly.decode([encoded!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), { zone: 'serving', dryRun: true });
  });

  test("its own ROTATOR_CODEC_KEY encrypts; the sandbox's key still decodes what the Web UI encrypted", async () => {
    const own = randomBytes(32).toString('base64');
    const codec = cliCodec({ ROTATOR_CODEC_KEY: own, ROTATOR_CODEC_KEY_ID: 'mine' }, {
      codec: { keyId: 'sandbox', key: sandboxKey.toString('base64'), endpoint: '' },
    } as never)!;
    const [mine] = await codec.encode([payload()]);
    assert.equal(Buffer.from(mine!.metadata!['encryption-key-id']!).toString(), 'mine');
    const [fromUi] = await sandboxOnly.encode([payload()]);
    for (const p of await codec.decode([mine!, fromUi!]))
      assert.deepEqual(defaultPayloadConverter.fromPayload(p), { zone: 'serving', dryRun: true });
  });

  test('no key and no sandbox: no codec; a malformed key is a usage error', () => {
    assert.equal(resolveConnection({ json: false }, {}).codec, undefined);
    usageError(
      () => resolveConnection({ json: false }, { ROTATOR_CODEC_KEY: 'c2hvcnQ=' }),
      /ROTATOR_CODEC_KEY must be base64 of exactly 32 bytes/,
    );
  });
});
