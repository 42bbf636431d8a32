import { generateCredentials } from './credentials';
import {
  DecryptionFailed,
  NotImplemented,
  ProtocolError,
  fromNetwork,
  fromServer,
  isAdminError,
} from './errors';
import { DIALECTS, SERVICE_ACCOUNT_ROUTES, type DialectSpec } from './dialects';
import { MadminCryptoError, decryptMadmin, encryptMadmin, type MadminAlgorithmId } from './madmin-crypto';
import { DEFAULT_REGION, signRequest } from './sigv4';
import type {
  AddServiceAccountRequest,
  Dialect,
  AdminApi,
  AdminClient,
  AdminClientOptions,
  Credentials,
  ServerInfo,
  ServiceAccountInfo,
  ServiceAccountSummary,
  StoreCapabilities,
  UpdateServiceAccountRequest,
  UserInfo,
  UserStatus,
  UserSummary,
} from './types';

const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * "Does not expire" for RustFS releases that require an expiration (alpha.85: none →
 * InvalidExpiration) or default it to one hour (alpha.87-99, iam sys.rs new_service_account).
 */
const NEVER_EXPIRES = '9999-12-31T23:59:59Z';
/** Required by alpha.85 (AddServiceAccountReq::validate: "name is empty"); ≤ 32 chars later. */
const DEFAULT_ACCOUNT_NAME = 'rotator';

interface CallOptions {
  /** Operation name used in errors, e.g. `addUser`. */
  op: string;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  route: string;
  query?: Record<string, string>;
  /** JSON body; sealed with the madmin envelope when the dialect encrypts and `seal` is set. */
  json?: unknown;
  seal?: boolean;
  /** Another dialect's prefix and sealing than the client's (capability probes). */
  via?: DialectSpec;
  /** Pre-serialised body sent as is (canned policies are never encrypted). */
  raw?: Uint8Array;
  /** What the call is about, safe to show in an error. */
  subject?: string;
  /** Values that must never show up in an error even if the server echoes them. */
  secrets?: readonly string[];
}

/**
 * What earlier clients in this process learned of a server, by endpoint, so that activities,
 * each with a new client, do not probe again: the dialect `auto` picked, and which
 * service-account route names answered. Both hold across RustFS upgrades (every release serves
 * /rustfs/admin/v3; the plural routes remain after the singular ones arrive), and the routes
 * are only an order to try, so a stale entry costs one NotImplemented, never a failure.
 */
const LEARNED = new Map<string, { dialect?: Dialect; serviceAccountRoutes?: 'singular' | 'plural' }>();

function learn(endpoint: string, what: { dialect?: Dialect; serviceAccountRoutes?: 'singular' | 'plural' }) {
  LEARNED.set(endpoint, { ...LEARNED.get(endpoint), ...what });
}

export function createAdminClient(opts: AdminClientOptions): AdminClient {
  return new HttpAdminClient(opts);
}

class HttpAdminClient implements AdminClient {
  readonly endpoint: string;
  private readonly requested: AdminApi;
  private resolved: DialectSpec | undefined;
  private capabilities: Promise<StoreCapabilities> | undefined;
  private readonly credentials: Credentials;
  private readonly region: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly algorithm: MadminAlgorithmId | undefined;

  constructor(opts: AdminClientOptions) {
    if (opts.dialect !== 'auto' && !DIALECTS[opts.dialect]) {
      throw new TypeError(`unknown admin dialect ${JSON.stringify(opts.dialect)}`);
    }
    this.requested = opts.dialect;
    this.resolved = opts.dialect === 'auto' ? undefined : DIALECTS[opts.dialect];
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    this.credentials = { ...opts.credentials };
    this.region = opts.region ?? DEFAULT_REGION;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetchImpl = opts.fetch ?? fetch;
    this.algorithm = opts.madminAlgorithm;
  }

  get dialect(): AdminApi {
    return this.resolved?.name ?? this.requested;
  }

  /** The dialect to talk: the configured one, or for `auto` the one detection picked. */
  private async spec(): Promise<DialectSpec> {
    if (this.resolved) return this.resolved;
    const dialect = LEARNED.get(this.endpoint)?.dialect ?? (await this.detectCapabilities()).dialect;
    this.resolved = DIALECTS[dialect];
    return this.resolved;
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
    // MinIO with v=2 wraps the document: {PolicyName?, Version: 1, Policy: {...}, CreateDate};
    // RustFS answers {policy_name, policy, …} with the policy as a JSON string (alpha.85) or
    // as an object (beta.7).
    if ('Statement' in body) return body;
    let inner = body.Policy ?? body.policy;
    if (typeof inner === 'string') {
      try {
        inner = JSON.parse(inner) as unknown;
      } catch {
        throw new ProtocolError(`infoCannedPolicy (policy ${name}): the policy in the reply is not JSON`, {
          operation: 'infoCannedPolicy',
        });
      }
    }
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) return inner;
    throw new ProtocolError(`infoCannedPolicy (policy ${name}): the reply holds no policy`, {
      operation: 'infoCannedPolicy',
    });
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

  async addServiceAccount(request: AddServiceAccountRequest): Promise<Credentials> {
    const spec = await this.spec();
    let req = request;
    if (spec.rustfsServiceAccountBody && !(req.accessKey && req.secretKey)) {
      // alpha.85 rejects a body without both keys ("missing field `accessKey`").
      req = { ...req, ...generateCredentials() };
    }
    const json: Record<string, unknown> = {};
    if (req.parentUser) json.targetUser = req.parentUser;
    if (req.accessKey) json.accessKey = req.accessKey;
    if (req.secretKey) json.secretKey = req.secretKey;
    if (req.policy) json.policy = spec.rustfsServiceAccountBody ? JSON.stringify(req.policy) : req.policy;
    if (req.name || spec.rustfsServiceAccountBody) json.name = req.name || DEFAULT_ACCOUNT_NAME;
    if (req.description) json.description = req.description;
    if (req.expiration) json.expiration = req.expiration.toISOString();
    else if (spec.rustfsServiceAccountBody) json.expiration = NEVER_EXPIRES;
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
      await this.withRouteFallback(await this.routes('add'), (route) => this.call({ ...call, route }));
      return { accessKey: req.accessKey, secretKey: req.secretKey };
    }
    const body = await this.withRouteFallback(await this.routes('add'), (route) =>
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
    const spec = await this.spec();
    const json: Record<string, unknown> = {};
    if (req.secretKey) json.newSecretKey = req.secretKey;
    if (req.status) json.newStatus = req.status;
    if (req.policy) json.newPolicy = spec.rustfsServiceAccountBody ? JSON.stringify(req.policy) : req.policy;
    // alpha.85 requires the field ("missing field `newExpiration`"); null keeps the expiration.
    if (spec.rustfsServiceAccountBody) json.newExpiration = null;
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
    await this.withRouteFallback(await this.routes('delete'), (route) =>
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

  async serverInfo(via?: DialectSpec): Promise<ServerInfo> {
    const raw = await this.callJson({ op: 'serverInfo', method: 'GET', route: 'info', via });
    const top = asObject('serverInfo', raw);
    // RustFS from 1.0.0-beta.9 wraps the InfoMessage: {info, admin_discovery, bitrotSelftest}
    // (rustfs/src/admin/handlers/system.rs ServerInfoResponse, rc.3 :417; captured on rc.3),
    // on both prefixes; MinIO and earlier RustFS answer the InfoMessage itself.
    const o =
      !('servers' in top) && top.info && typeof top.info === 'object' && !Array.isArray(top.info)
        ? (top.info as Record<string, unknown>)
        : top;
    const servers = Array.isArray(o.servers) ? (o.servers as Array<Record<string, unknown>>) : [];
    // RustFS reports its version as "@1.0.0-beta.7" (and "@0.0.5" for a build without git metadata).
    const version = servers
      .map((s) => s.version)
      .find((v): v is string => typeof v === 'string' && v !== '')
      ?.replace(/^@/, '');
    return {
      ...(typeof o.mode === 'string' ? { mode: o.mode } : {}),
      ...(version ? { version } : {}),
      raw,
    };
  }

  detectCapabilities(): Promise<StoreCapabilities> {
    this.capabilities ??= this.detect().catch((err: unknown) => {
      this.capabilities = undefined;
      throw err;
    });
    return this.capabilities;
  }

  /**
   * Read-only probes, each documented where it is made. A refusal of the credential is thrown
   * as is: capabilities are only known to a caller the store accepts as root.
   */
  private async detect(): Promise<StoreCapabilities> {
    const detectedBy: string[] = [];
    const dialects: Dialect[] = [];
    let info: ServerInfo | undefined;
    for (const d of [DIALECTS.rustfs, DIALECTS.madmin]) {
      try {
        const got = await this.serverInfo(d);
        info ??= got;
        dialects.push(d.name);
        detectedBy.push(`GET ${d.prefix}/info answered`);
      } catch (err) {
        if (!isAdminError(err) || !['NotFound', 'NotImplemented', 'BadRequest'].includes(err.code)) throw err;
        detectedBy.push(
          `GET ${d.prefix}/info: not served (HTTP ${err.status ?? '?'} ${err.serverCode ?? err.code})`,
        );
      }
    }
    if (dialects.length === 0) {
      throw new NotImplemented(
        `detectCapabilities: ${this.endpoint} serves neither /rustfs/admin/v3 nor /minio/admin/v3 (${detectedBy.join('; ')})`,
        { operation: 'detectCapabilities' },
      );
    }
    // Only RustFS serves /rustfs/admin/v3: MinIO reads the path as a bucket named "rustfs".
    const kind = dialects.includes('rustfs') ? 'rustfs' : 'minio';
    let serviceAccountRoutes: StoreCapabilities['serviceAccountRoutes'] = 'singular';
    let iamSurvivesRootChange = true;
    if (kind === 'minio') {
      detectedBy.push('MinIO: singular service-account routes; IAM is not sealed with the root credential');
    } else {
      serviceAccountRoutes = await this.probeSingularRoutes(detectedBy);
      iamSurvivesRootChange = await this.probeIamKeptAcrossRootChange(detectedBy);
    }
    const dialect: Dialect = dialects.includes('rustfs') ? 'rustfs' : 'madmin';
    learn(this.endpoint, { dialect, serviceAccountRoutes });
    return {
      kind,
      ...(info?.version ? { version: info.version } : {}),
      dialects,
      dialect,
      serviceAccountRoutes,
      iamSurvivesRootChange,
      detectedBy,
    };
  }

  /**
   * PUT add-service-account with the body `[]`: a release without the route answers 501
   * NotImplemented (alpha.85, captured); one with it fails to deserialise the body into
   * AddServiceAccountReq (400 "unmarshal body failed") before it looks at IAM, so nothing is
   * created (service_account.rs AddServiceAccount at alpha.87 … rc.3).
   */
  private async probeSingularRoutes(detectedBy: string[]): Promise<'singular' | 'plural'> {
    try {
      await this.call({
        op: 'detectCapabilities',
        method: 'PUT',
        route: SERVICE_ACCOUNT_ROUTES.singular.add,
        json: [],
        via: DIALECTS.rustfs,
      });
    } catch (err) {
      if (isAdminError(err, 'NotImplemented')) {
        detectedBy.push('PUT add-service-account: 501 NotImplemented, so only the plural routes');
        return 'plural';
      }
      if (!isAdminError(err, 'BadRequest')) throw err;
    }
    detectedBy.push('PUT add-service-account: the route exists (refused an empty body)');
    return 'singular';
  }

  /**
   * Whether IAM survives a root change. RustFS through 1.0.0-alpha.99 seals every IAM file with
   * the root secret (crates/iam/src/store/object.rs encrypt_data: the root secret, or
   * "access:secret" from alpha.9x; RUSTFS_IAM_MASTER_KEY from alpha.99 when set), so a new root
   * cannot read them and the store starts with no users. From 1.0.0-beta.1 save_iam_config
   * stores plaintext unless a master key is set (prepare_data_for_storage), and reads old sealed
   * files with the legacy keys. The IAM files themselves are not readable over S3 (the
   * `.rustfs.sys` bucket answers InvalidBucketName, captured on both binaries), and no admin
   * field reports the storage. The same release, beta.1, added the admin route
   * `GET /v3/module-switches`; at every tag from alpha.85 to rc.3 that route exists exactly when
   * plaintext storage does (checked tag by tag). So a 200 there means IAM is kept; its absence
   * means IAM is sealed by the root — unless RUSTFS_IAM_MASTER_KEY is set on alpha.99, which no
   * request shows: then this says "lost", and recreating the zones from their Secrets is
   * harmless on a store that kept them.
   */
  private async probeIamKeptAcrossRootChange(detectedBy: string[]): Promise<boolean> {
    try {
      await this.call({
        op: 'detectCapabilities',
        method: 'GET',
        route: 'module-switches',
        via: DIALECTS.rustfs,
      });
    } catch (err) {
      if (!isAdminError(err, 'NotImplemented') && !isAdminError(err, 'NotFound')) throw err;
      detectedBy.push(
        'GET module-switches: not served, a release before 1.0.0-beta.1 that seals IAM with the root secret',
      );
      return false;
    }
    detectedBy.push(
      'GET module-switches: served, a release (1.0.0-beta.1+) that stores IAM without the root secret',
    );
    return true;
  }

  async live(): Promise<boolean> {
    return this.probe((await this.healthSpec()).livePaths);
  }

  async ready(): Promise<boolean> {
    return this.probe((await this.healthSpec()).readyPaths);
  }

  /** Health needs no detection: madmin's list ends with RustFS's paths. */
  private async healthSpec(): Promise<DialectSpec> {
    return this.resolved ?? DIALECTS.madmin;
  }

  private async probe(paths: readonly string[]): Promise<boolean> {
    for (const path of paths) {
      try {
        const res = await this.fetchImpl(this.endpoint + path, {
          method: 'GET',
          signal: AbortSignal.timeout(Math.min(this.timeoutMs, 5_000)),
        });
        await res.arrayBuffer().catch(() => undefined);
        // RustFS answers a path it lacks (e.g. /minio/health/ready) 403 or 404: try the next.
        if (res.status === 403 || res.status === 404) continue;
        return res.ok;
      } catch {
        return false;
      }
    }
    return false;
  }

  /** The service-account routes to try: the one known to answer first, when known. */
  private async routes(op: 'add' | 'delete'): Promise<readonly string[]> {
    const spec = await this.spec();
    const routes = op === 'add' ? spec.addServiceAccountRoutes : spec.deleteServiceAccountRoutes;
    const known = spec.name === 'rustfs' ? LEARNED.get(this.endpoint)?.serviceAccountRoutes : undefined;
    if (!known) return routes;
    const first = SERVICE_ACCOUNT_ROUTES[known][op];
    return [first, ...routes.filter((r) => r !== first)];
  }

  // ---- transport -----------------------------------------------------------------------

  private async withRouteFallback<T>(
    routes: readonly string[],
    attempt: (route: string) => Promise<T>,
  ): Promise<T> {
    let last: unknown;
    for (const route of routes) {
      try {
        const result = await attempt(route);
        if (route !== routes[0]) {
          learn(this.endpoint, {
            serviceAccountRoutes: Object.values(SERVICE_ACCOUNT_ROUTES.plural).includes(route as never)
              ? 'plural'
              : 'singular',
          });
        }
        return result;
      } catch (err) {
        if (!isAdminError(err, 'NotImplemented')) throw err;
        last = err;
      }
    }
    throw last;
  }

  private async callJson(o: CallOptions): Promise<unknown> {
    const body = await this.call(o);
    const text = await this.openReply(o.op, body, o.via ?? (await this.spec()));
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
  private async openReply(op: string, body: Buffer, spec: DialectSpec): Promise<string> {
    if (!spec.encrypted || body.length <= 32 || body[32]! > 0x02) return body.toString('utf8');
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
    const spec = o.via ?? (await this.spec());
    const url = new URL(`${this.endpoint}${spec.prefix}/${o.route}`);
    for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
    let body: Uint8Array | undefined = o.raw;
    const headers: Record<string, string> = {};
    if (o.json !== undefined) {
      const plain = Buffer.from(JSON.stringify(o.json), 'utf8');
      if (o.seal && spec.encrypted) {
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
    if (res.status === 404 && code === 'NoSuchBucket' && !o.via) {
      // No admin route answers NoSuchBucket: the server took the prefix for a bucket name.
      throw new NotImplemented(
        `${o.op}: this store does not serve the ${spec.name} admin API (${spec.prefix} answered HTTP 404 NoSuchBucket, ` +
          `as RustFS releases before 1.0.0-alpha.87, e.g. 1.0.0-alpha.85, do: they serve only /rustfs/admin/v3); ` +
          `set store.adminApi to "rustfs" or "auto"`,
        { operation: o.op, status: 404, serverCode: code },
      );
    }
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
