import { DecryptionFailed, ProtocolError, fromNetwork, fromServer, isAdminError } from './errors';
import { DIALECTS, type DialectSpec } from './dialects';
import { MadminCryptoError, decryptMadmin, encryptMadmin, type MadminAlgorithmId } from './madmin-crypto';
import { DEFAULT_REGION, signRequest } from './sigv4';
import type {
  AddServiceAccountRequest,
  AdminClient,
  AdminClientOptions,
  Credentials,
  ServerInfo,
  ServiceAccountInfo,
  ServiceAccountSummary,
  UpdateServiceAccountRequest,
  UserInfo,
  UserStatus,
  UserSummary,
} from './types';

const DEFAULT_TIMEOUT_MS = 30_000;

interface CallOptions {
  /** Operation name used in errors, e.g. `addUser`. */
  op: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  route: string;
  query?: Record<string, string>;
  /** JSON body; sealed with the madmin envelope when the dialect encrypts and `seal` is set. */
  json?: unknown;
  seal?: boolean;
  /** Pre-serialised body sent as is (canned policies are never encrypted). */
  raw?: Uint8Array;
  /** What the call is about, safe to show in an error. */
  subject?: string;
  /** Values that must never show up in an error even if the server echoes them. */
  secrets?: readonly string[];
}

export function createAdminClient(opts: AdminClientOptions): AdminClient {
  return new HttpAdminClient(opts);
}

class HttpAdminClient implements AdminClient {
  readonly dialect;
  readonly endpoint: string;
  private readonly spec: DialectSpec;
  private readonly credentials: Credentials;
  private readonly region: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly algorithm: MadminAlgorithmId | undefined;

  constructor(opts: AdminClientOptions) {
    const spec = DIALECTS[opts.dialect];
    if (!spec) throw new TypeError(`unknown admin dialect ${JSON.stringify(opts.dialect)}`);
    this.spec = spec;
    this.dialect = opts.dialect;
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    this.credentials = { ...opts.credentials };
    this.region = opts.region ?? DEFAULT_REGION;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchImpl = opts.fetch ?? fetch;
    this.algorithm = opts.madminAlgorithm;
  }

  // ---- users ---------------------------------------------------------------------------

  async addUser(accessKey: string, secretKey: string): Promise<void> {
    await this.call({
      op: 'addUser',
      method: 'PUT',
      route: 'add-user',
      query: { accessKey },
      json: { secretKey, status: 'enabled' },
      seal: true,
      subject: `user ${accessKey}`,
      secrets: [secretKey],
    });
  }

  async removeUser(accessKey: string): Promise<void> {
    await this.call({
      op: 'removeUser',
      method: 'DELETE',
      route: 'remove-user',
      query: { accessKey },
      subject: `user ${accessKey}`,
    });
  }

  async listUsers(): Promise<Record<string, UserSummary>> {
    const body = await this.callJson({ op: 'listUsers', method: 'GET', route: 'list-users' });
    const out: Record<string, UserSummary> = {};
    for (const [name, v] of Object.entries(asObject('listUsers', body))) {
      const u = (v ?? {}) as Record<string, unknown>;
      out[name] = {
        status: toUserStatus(u.status),
        ...(typeof u.policyName === 'string' && u.policyName ? { policyName: u.policyName } : {}),
      };
    }
    return out;
  }

  async userInfo(accessKey: string): Promise<UserInfo> {
    const body = asObject(
      'userInfo',
      await this.callJson({
        op: 'userInfo',
        method: 'GET',
        route: 'user-info',
        query: { accessKey },
        subject: `user ${accessKey}`,
      }),
    );
    return {
      status: toUserStatus(body.status),
      ...(typeof body.policyName === 'string' && body.policyName ? { policyName: body.policyName } : {}),
      ...(Array.isArray(body.memberOf) ? { memberOf: body.memberOf.map(String) } : {}),
    };
  }

  async setUserStatus(accessKey: string, status: UserStatus): Promise<void> {
    await this.call({
      op: 'setUserStatus',
      method: 'PUT',
      route: 'set-user-status',
      query: { accessKey, status },
      subject: `user ${accessKey}`,
    });
  }

  // ---- canned policies -----------------------------------------------------------------

  async addCannedPolicy(name: string, policy: object): Promise<void> {
    await this.call({
      op: 'addCannedPolicy',
      method: 'PUT',
      route: 'add-canned-policy',
      query: { name },
      raw: Buffer.from(JSON.stringify(policy), 'utf8'),
      subject: `policy ${name}`,
    });
  }

  async removeCannedPolicy(name: string): Promise<void> {
    await this.call({
      op: 'removeCannedPolicy',
      method: 'DELETE',
      route: 'remove-canned-policy',
      query: { name },
      subject: `policy ${name}`,
    });
  }

  async listCannedPolicies(): Promise<Record<string, unknown>> {
    const body = await this.callJson({
      op: 'listCannedPolicies',
      method: 'GET',
      route: 'list-canned-policies',
    });
    return asObject('listCannedPolicies', body);
  }

  async infoCannedPolicy(name: string): Promise<object> {
    const body = asObject(
      'infoCannedPolicy',
      await this.callJson({
        op: 'infoCannedPolicy',
        method: 'GET',
        route: 'info-canned-policy',
        query: { name },
        subject: `policy ${name}`,
      }),
    );
    // MinIO with v=2 and RustFS wrap the document: {PolicyName?, Version: 1, Policy: {...}, CreateDate}.
    const inner = body.Policy ?? body.policy;
    if (inner && typeof inner === 'object' && !('Statement' in body)) return inner;
    return body;
  }

  async attachPolicy(user: string, policyName: string): Promise<void> {
    await this.call({
      op: 'attachPolicy',
      method: 'PUT',
      route: 'set-user-or-group-policy',
      query: { policyName, userOrGroup: user, isGroup: 'false' },
      subject: `policy ${policyName} → user ${user}`,
    });
  }

  // ---- service accounts ----------------------------------------------------------------

  async addServiceAccount(req: AddServiceAccountRequest): Promise<Credentials> {
    const json: Record<string, unknown> = {};
    if (req.parentUser) json.targetUser = req.parentUser;
    if (req.accessKey) json.accessKey = req.accessKey;
    if (req.secretKey) json.secretKey = req.secretKey;
    if (req.policy) json.policy = req.policy;
    if (req.name) json.name = req.name;
    if (req.description) json.description = req.description;
    if (req.expiration) json.expiration = req.expiration.toISOString();
    const subject = `service account ${req.accessKey ?? '(generated)'} of ${req.parentUser ?? 'the caller'}`;
    const call: Omit<CallOptions, 'route'> = {
      op: 'addServiceAccount',
      method: 'PUT',
      json,
      seal: true,
      subject,
      secrets: req.secretKey ? [req.secretKey] : [],
    };
    if (req.accessKey && req.secretKey) {
      // The reply only repeats the keys the caller chose, and MinIO seals it with Argon2id
      // (64 MiB per derivation): a success status is all there is to learn.
      await this.withRouteFallback(this.spec.addServiceAccountRoutes, (route) =>
        this.call({ ...call, route }),
      );
      return { accessKey: req.accessKey, secretKey: req.secretKey };
    }
    const body = await this.withRouteFallback(this.spec.addServiceAccountRoutes, (route) =>
      this.callJson({ ...call, route }),
    );
    const creds = asObject('addServiceAccount', asObject('addServiceAccount', body).credentials);
    if (typeof creds.accessKey !== 'string' || typeof creds.secretKey !== 'string') {
      throw new ProtocolError('addServiceAccount: the reply holds no credentials', {
        operation: 'addServiceAccount',
      });
    }
    return { accessKey: creds.accessKey, secretKey: creds.secretKey };
  }

  async updateServiceAccount(accessKey: string, req: UpdateServiceAccountRequest): Promise<void> {
    const json: Record<string, unknown> = {};
    if (req.secretKey) json.newSecretKey = req.secretKey;
    if (req.status) json.newStatus = req.status;
    if (req.policy) json.newPolicy = req.policy;
    await this.call({
      op: 'updateServiceAccount',
      method: 'POST',
      route: 'update-service-account',
      query: { accessKey },
      json,
      seal: true,
      subject: `service account ${accessKey}`,
      secrets: req.secretKey ? [req.secretKey] : [],
    });
  }

  async listServiceAccounts(user: string): Promise<ServiceAccountSummary[]> {
    const body = asObject(
      'listServiceAccounts',
      await this.callJson({
        op: 'listServiceAccounts',
        method: 'GET',
        route: 'list-service-accounts',
        query: { user },
        subject: `user ${user}`,
      }),
    );
    const accounts = Array.isArray(body.accounts) ? body.accounts : [];
    return accounts.map((a): ServiceAccountSummary => {
      // Old servers list bare access keys.
      if (typeof a === 'string') return { accessKey: a };
      const o = a as Record<string, unknown>;
      return {
        accessKey: String(o.accessKey ?? ''),
        ...optionalString('parentUser', o.parentUser),
        ...optionalString('accountStatus', o.accountStatus),
        ...optionalString('name', o.name),
        ...optionalString('description', o.description),
      };
    });
  }

  async infoServiceAccount(accessKey: string): Promise<ServiceAccountInfo> {
    const body = asObject(
      'infoServiceAccount',
      await this.callJson({
        op: 'infoServiceAccount',
        method: 'GET',
        route: 'info-service-account',
        query: { accessKey },
        subject: `service account ${accessKey}`,
      }),
    );
    return {
      parentUser: String(body.parentUser ?? ''),
      accountStatus: String(body.accountStatus ?? ''),
      ...(typeof body.impliedPolicy === 'boolean' ? { impliedPolicy: body.impliedPolicy } : {}),
      ...optionalString('policy', body.policy),
      ...optionalString('name', body.name),
      ...optionalString('description', body.description),
    };
  }

  async deleteServiceAccount(accessKey: string): Promise<void> {
    await this.withRouteFallback(this.spec.deleteServiceAccountRoutes, (route) =>
      this.call({
        op: 'deleteServiceAccount',
        method: 'DELETE',
        route,
        query: { accessKey },
        subject: `service account ${accessKey}`,
      }),
    );
  }

  // ---- server --------------------------------------------------------------------------

  async serverInfo(): Promise<ServerInfo> {
    const raw = await this.callJson({ op: 'serverInfo', method: 'GET', route: 'info' });
    const o = asObject('serverInfo', raw);
    const servers = Array.isArray(o.servers) ? (o.servers as Array<Record<string, unknown>>) : [];
    const version = servers.map((s) => s.version).find((v): v is string => typeof v === 'string' && v !== '');
    return {
      ...(typeof o.mode === 'string' ? { mode: o.mode } : {}),
      ...(version ? { version } : {}),
      raw,
    };
  }

  live(): Promise<boolean> {
    return this.probe(this.spec.livePath);
  }

  ready(): Promise<boolean> {
    return this.probe(this.spec.readyPath);
  }

  private async probe(path: string): Promise<boolean> {
    try {
      const res = await this.fetchImpl(this.endpoint + path, {
        method: 'GET',
        signal: AbortSignal.timeout(Math.min(this.timeoutMs, 5_000)),
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.ok;
    } catch {
      return false;
    }
  }

  // ---- transport -----------------------------------------------------------------------

  private async withRouteFallback<T>(
    routes: readonly string[],
    attempt: (route: string) => Promise<T>,
  ): Promise<T> {
    let last: unknown;
    for (const route of routes) {
      try {
        return await attempt(route);
      } catch (err) {
        if (!isAdminError(err, 'NotImplemented')) throw err;
        last = err;
      }
    }
    throw last;
  }

  private async callJson(o: CallOptions): Promise<unknown> {
    const body = await this.call(o);
    const text = await this.openReply(o.op, body);
    if (text.length === 0) return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // The reply may hold secrets (list-users, add-service-account): never quote it.
      throw new ProtocolError(`${o.op}: the reply is not JSON (${body.length} bytes)`, { operation: o.op });
    }
  }

  /**
   * madmin servers seal some replies and not others, and it has varied across versions. A JSON
   * text never contains the bytes 0x00-0x02, while a sealed reply has its algorithm id there.
   */
  private async openReply(op: string, body: Buffer): Promise<string> {
    if (!this.spec.encrypted || body.length <= 32 || body[32]! > 0x02) return body.toString('utf8');
    try {
      return (await decryptMadmin(this.credentials.secretKey, body)).plaintext.toString('utf8');
    } catch (err) {
      if (err instanceof MadminCryptoError) {
        throw new DecryptionFailed(`${op}: ${err.message}`, { operation: op });
      }
      throw err;
    }
  }

  private async call(o: CallOptions): Promise<Buffer> {
    const url = new URL(`${this.endpoint}${this.spec.prefix}/${o.route}`);
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
    let body: Uint8Array | undefined = o.raw;
    const headers: Record<string, string> = {};
    if (o.json !== undefined) {
      const plain = Buffer.from(JSON.stringify(o.json), 'utf8');
      if (o.seal && this.spec.encrypted) {
        body = await encryptMadmin(this.credentials.secretKey, plain, { algorithm: this.algorithm });
        headers['content-type'] = 'application/octet-stream';
      } else {
        body = plain;
        headers['content-type'] = 'application/json';
      }
    } else if (body) {
      headers['content-type'] = 'application/json';
    }

    const signed = await signRequest(
      { method: o.method, url, headers, body },
      { credentials: this.credentials, region: this.region },
    );

    let res: Response;
    let buf: Buffer;
    try {
      res = await this.fetchImpl(url, {
        method: o.method,
        headers: signed,
        body: body && body.length > 0 ? body : o.method === 'GET' ? undefined : new Uint8Array(0),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      buf = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      throw fromNetwork(o.op, err, this.timeoutMs, o.subject);
    }
    if (res.ok) return buf;
    const { code, message } = parseServerError(buf);
    throw fromServer({
      operation: o.op,
      status: res.status,
      serverCode: code,
      serverMessage: message,
      subject: o.subject,
      secrets: [this.credentials.secretKey, ...(o.secrets ?? [])],
    });
  }
}

/** MinIO answers admin errors as JSON, S3 and RustFS as XML; take the code and message from either. */
export function parseServerError(buf: Buffer): { code?: string; message?: string } {
  const text = buf.toString('utf8').trim();
  if (text.startsWith('{')) {
    try {
      const o = JSON.parse(text) as Record<string, unknown>;
      const code = o.Code ?? o.code;
      const message = o.Message ?? o.message ?? o.Description ?? o.description;
      return {
        ...(typeof code === 'string' && code ? { code } : {}),
        ...(typeof message === 'string' && message ? { message } : {}),
      };
    } catch {
      return {};
    }
  }
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
  return { ...(code ? { code } : {}), ...(message ? { message: unescapeXml(message) } : {}) };
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function asObject(op: string, v: unknown): Record<string, unknown> {
  if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  throw new ProtocolError(`${op}: expected a JSON object in the reply`, { operation: op });
}

function toUserStatus(v: unknown): UserStatus {
  return v === 'disabled' ? 'disabled' : 'enabled';
}

function optionalString<K extends string>(key: K, v: unknown): Partial<Record<K, string>> {
  return typeof v === 'string' && v !== '' ? ({ [key]: v } as Record<K, string>) : {};
}
