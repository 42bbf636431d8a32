// Where the worker, the CLI and the demo connect to Temporal, decided in one place by one rule.
// Each setting comes from the first of:
//   1. a command-line flag (the CLI's --address, --namespace, --profile);
//   2. a sandbox, when one is named (--sandbox or ROTATOR_SANDBOX_STATE): the local stack's
//      whole connection, its address and namespace, plaintext, no API key;
//   3. the environment: Temporal's own variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
//      TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH, ...), or the older names
//      this project used first (TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA), kept as aliases;
//   4. the profile (TEMPORAL_PROFILE, else "default") of Temporal's client config file
//      (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml), read by @temporalio/envconfig;
//   5. the defaults: localhost:7233, namespace "default", plaintext.
// Layers 3 to 5 are Temporal's env-config, so an operator's existing Temporal client
// configuration (the temporal CLI's too) is used as it is.
import fs from 'node:fs';
import { type TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import {
  loadClientConfigProfile,
  type ClientConfigProfile,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import { type SandboxState } from '../sandbox/state';

export const DEFAULT_TEMPORAL_ADDRESS = 'localhost:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** The older variable names, each the alias of Temporal's own. */
export const TEMPORAL_ENV_ALIASES = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  TEMPORAL_TLS_CA: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
} as const;

export interface TemporalSettings {
  address: string;
  namespace: string;
  apiKey?: string;
  /** undefined: plaintext; true: TLS with the system CAs; else the mTLS pair / private CA / server name. */
  tls?: true | TLSConfig;
  /** gRPC metadata from the profile or TEMPORAL_GRPC_META_*. */
  grpcMeta?: Record<string, string>;
  /** Where the connection came from, for logs and errors: "sandbox <file>", "profile prod of <file>", ... */
  source: string;
}

export interface SettingsInput {
  flags?: { address?: string; namespace?: string; profile?: string };
  env: Record<string, string | undefined>;
  /** The named sandbox and its state file, if any. */
  sandbox?: { file: string; state: SandboxState };
}

/** The settings, or every problem found (each names its variable or file); never both. */
export type SettingsResult = { ok: true; settings: TemporalSettings } | { ok: false; problems: string[] };

export function temporalSettings(input: SettingsInput): SettingsResult {
  const { flags = {}, env, sandbox } = input;
  if (sandbox) {
    return {
      ok: true,
      settings: {
        address: flags.address ?? sandbox.state.temporal.address,
        namespace: flags.namespace ?? sandbox.state.temporal.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
        source: `sandbox ${sandbox.file}`,
      },
    };
  }
  const problems: string[] = [];
  // The SDK reads anything but "true" or "1" as false: a typo must not turn TLS off.
  if (env.TEMPORAL_TLS && !['true', 'false', '1', '0'].includes(env.TEMPORAL_TLS))
    problems.push(`TEMPORAL_TLS: expected "true" or "false", got "${env.TEMPORAL_TLS}"`);
  const sdkEnv = withAliases(env, problems);
  let profile: ClientConfigProfile = {};
  try {
    profile = loadClientConfigProfile({ profile: flags.profile, overrideEnvVars: sdkEnv });
  } catch (err) {
    problems.push(`${configFileName(env)}: ${(err as Error).message}`);
  }
  const tls = tlsOf(profile, env, problems);
  if (problems.length) return { ok: false, problems };
  return {
    ok: true,
    settings: {
      address: flags.address ?? profile.address ?? DEFAULT_TEMPORAL_ADDRESS,
      namespace: flags.namespace ?? profile.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
      ...(profile.apiKey ? { apiKey: profile.apiKey } : {}),
      ...(tls ? { tls } : {}),
      ...(profile.grpcMeta && Object.keys(profile.grpcMeta).length ? { grpcMeta: profile.grpcMeta } : {}),
      source: sourceOf(flags.profile, env),
    },
  };
}

/** The environment with each alias under Temporal's name; both set and different is a problem. */
function withAliases(env: Record<string, string | undefined>, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') out[k] = v;
  for (const [alias, name] of Object.entries(TEMPORAL_ENV_ALIASES)) {
    const value = out[alias];
    if (value === undefined) continue;
    if (out[name] !== undefined && out[name] !== value)
      problems.push(
        `${alias}: set to "${value}" but ${name}, which it is an alias of, is "${out[name]}"; unset one`,
      );
    out[name] ??= value;
  }
  return out;
}

const configFileName = (env: Record<string, string | undefined>) =>
  env.TEMPORAL_CONFIG_FILE
    ? `TEMPORAL_CONFIG_FILE (${env.TEMPORAL_CONFIG_FILE})`
    : 'the Temporal config file';

function sourceOf(profile: string | undefined, env: Record<string, string | undefined>): string {
  const name = profile ?? env.TEMPORAL_PROFILE ?? 'default';
  return `environment and profile "${name}" of ${configFileName(env)}`;
}

/**
 * The variable a TLS field was set by (Temporal's name or its alias), the config file when
 * neither; for a field not set at all, the name its partner was set by suggests the family.
 */
function named(env: Record<string, string | undefined>, sdkName: string, partner?: string): string {
  const aliasOf = (n: string) => Object.entries(TEMPORAL_ENV_ALIASES).find(([, v]) => v === n)?.[0];
  const alias = aliasOf(sdkName);
  if (env[sdkName]) return sdkName;
  if (alias && env[alias]) return alias;
  if (partner) {
    const partnerAlias = aliasOf(partner);
    if (env[partner]) return sdkName;
    if (partnerAlias && env[partnerAlias] && alias) return alias;
  }
  return `${sdkName.replace(/^TEMPORAL_TLS_/, 'tls.').toLowerCase()} in ${configFileName(env)}`;
}

function read(
  source: ConfigDataSource | undefined,
  what: string,
  name: string,
  problems: string[],
): Buffer | undefined {
  if (!source) return undefined;
  if ('data' in source) return Buffer.from(source.data);
  try {
    const data = fs.readFileSync(source.path);
    if (data.length) return data;
    problems.push(`${name}: ${what} ${source.path} is empty`);
  } catch (err) {
    problems.push(
      `${name}: cannot read ${what} ${source.path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  return undefined;
}

/** TLS as the SDK connects with it, each file read and checked now, each problem naming its variable. */
function tlsOf(
  profile: ClientConfigProfile,
  env: Record<string, string | undefined>,
  problems: string[],
): true | TLSConfig | undefined {
  const t = profile.tls;
  const certName = named(env, 'TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH');
  const keyName = named(env, 'TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_CLIENT_CERT_PATH');
  if (t?.clientCert && !t.clientKey)
    problems.push(`${keyName}: not set, but ${certName} is; mTLS needs both the certificate and its key`);
  if (t?.clientKey && !t.clientCert)
    problems.push(`${certName}: not set, but ${keyName} is; mTLS needs both the certificate and its key`);
  const crt = read(t?.clientCert, 'client certificate', certName, problems);
  const key = read(t?.clientKey, 'client key', keyName, problems);
  const ca = read(t?.serverCACert, 'CA bundle', named(env, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'), problems);
  if (crt && !crt.toString('utf8').includes('-----BEGIN CERTIFICATE-----'))
    problems.push(
      `${certName}: ${pathOf(t?.clientCert)} is not a PEM certificate (no "BEGIN CERTIFICATE" block)`,
    );
  if (key && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('utf8')))
    problems.push(
      `${keyName}: ${pathOf(t?.clientKey)} is not a PEM private key (no "BEGIN ... PRIVATE KEY" block)`,
    );
  if (t?.disabled && (crt || key || profile.apiKey))
    problems.push(
      'TEMPORAL_TLS: "false" contradicts a client certificate or TEMPORAL_API_KEY, which need TLS',
    );
  if (t?.disabled) return undefined;
  if (crt || key || ca || t?.serverName) {
    return {
      ...(t?.serverName ? { serverNameOverride: t.serverName } : {}),
      ...(ca ? { serverRootCACertificate: ca } : {}),
      ...(crt && key ? { clientCertPair: { crt, key } } : {}),
    };
  }
  // TLS asked for (TEMPORAL_TLS=true or a tls table), or implied by an API key: the system CAs.
  return t || profile.apiKey ? true : undefined;
}

const pathOf = (s: ConfigDataSource | undefined) => (s && 'path' in s ? s.path : '(inline data)');
