/**
 * Typed failures of the object store, admin API and S3 data plane alike, so activities can
 * decide "retry", "give up" or "this is the expected denial" without parsing strings.
 *
 * Messages are built only from the operation, the HTTP status, the server's error code and a
 * scrubbed server message: never from request bodies, secrets or signatures.
 */

export type AdminErrorCode =
  | 'AuthenticationFailed'
  | 'AccessDenied'
  | 'NotFound'
  | 'AlreadyExists'
  | 'NotReady'
  | 'BadRequest'
  | 'NotImplemented'
  | 'Unavailable'
  | 'ServerError'
  | 'DecryptionFailed'
  | 'ProtocolError';

/** Codes a caller may retry as is: the store may come back or finish starting. */
const RETRYABLE: ReadonlySet<AdminErrorCode> = new Set(['NotReady', 'Unavailable', 'ServerError']);

export interface AdminErrorInit {
  operation: string;
  status?: number;
  /** The server's own error code (e.g. `XMinioAdminNoSuchUser`), for diagnostics. */
  serverCode?: string;
  cause?: unknown;
}

export class AdminError extends Error {
  readonly code: AdminErrorCode;
  readonly retryable: boolean;
  readonly status?: number;
  readonly operation: string;
  readonly serverCode?: string;

  constructor(code: AdminErrorCode, message: string, init: AdminErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = RETRYABLE.has(code);
    this.status = init.status;
    this.operation = init.operation;
    this.serverCode = init.serverCode;
  }
}

export class AuthenticationFailed extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('AuthenticationFailed', message, init);
  }
}
export class AccessDenied extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('AccessDenied', message, init);
  }
}
export class NotFound extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('NotFound', message, init);
  }
}
export class AlreadyExists extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('AlreadyExists', message, init);
  }
}
export class NotReady extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('NotReady', message, init);
  }
}
export class BadRequest extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('BadRequest', message, init);
  }
}
export class NotImplemented extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('NotImplemented', message, init);
  }
}
export class Unavailable extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('Unavailable', message, init);
  }
}
export class ServerError extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('ServerError', message, init);
  }
}
/** The madmin envelope failed authentication: tampered, truncated, or sealed with another key. */
export class DecryptionFailed extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('DecryptionFailed', message, init);
  }
}
/** The server answered something this client cannot interpret (not JSON, wrong shape). */
export class ProtocolError extends AdminError {
  constructor(message: string, init: AdminErrorInit) {
    super('ProtocolError', message, init);
  }
}

export function isAdminError(err: unknown, code?: AdminErrorCode): err is AdminError {
  return err instanceof AdminError && (code === undefined || err.code === code);
}

/** Who holds an access key that add-service-account refused as taken, as far as the server says. */
export type KeyHolder = 'requested-parent' | 'another-identity' | 'unknown';

/**
 * The access key add-service-account was asked to create is taken; undefined for any other
 * failure. MinIO words its refusal after who holds the key ("already taken" when the requested
 * parent does, "taken by another user" otherwise; both XMinioIAMServiceAccountNotAllowed);
 * RustFS says "IAMActionNotAllowed" (alpha.85, beta.7) or, from 1.0.0-rc.1, 400 InvalidArgument
 * "access key is already in use" whoever holds it (a user, an account or an STS key), so the
 * holder must be read from the store.
 */
export function takenAccessKeyHolder(err: unknown): KeyHolder | undefined {
  if (!isAdminError(err)) return undefined;
  if (err.serverCode === 'XMinioIAMServiceAccountNotAllowed') {
    if (err.code === 'AlreadyExists') return 'requested-parent';
    return /taken by another/i.test(err.message) ? 'another-identity' : undefined;
  }
  return err.code === 'AlreadyExists' ? 'unknown' : undefined;
}

// Server codes that decide the class regardless of the HTTP status, which differs between
// MinIO, RustFS and plain S3 for the same condition.
const BY_SERVER_CODE: Record<string, AdminErrorCode> = {
  InvalidAccessKeyId: 'AuthenticationFailed',
  SignatureDoesNotMatch: 'AuthenticationFailed',
  XMinioAdminCredentialsMismatch: 'AuthenticationFailed',
  InvalidToken: 'AuthenticationFailed',
  ExpiredToken: 'AuthenticationFailed',
  AuthorizationHeaderMalformed: 'AuthenticationFailed',
  AccessDenied: 'AccessDenied',
  XMinioIAMActionNotAllowed: 'AccessDenied',
  AllAccessDisabled: 'AccessDenied',
  NoSuchKey: 'NotFound',
  NoSuchBucket: 'NotFound',
  NoSuchUpload: 'NotFound',
  NotFound: 'NotFound',
  XMinioAdminNoSuchUser: 'NotFound',
  XMinioAdminNoSuchPolicy: 'NotFound',
  XMinioAdminNoSuchGroup: 'NotFound',
  XMinioAdminNoSuchAccessKey: 'NotFound',
  NoSuchUser: 'NotFound',
  NoSuchPolicy: 'NotFound',
  NoSuchServiceAccount: 'NotFound',
  NoSuchResource: 'NotFound',
  BucketAlreadyExists: 'AlreadyExists',
  BucketAlreadyOwnedByYou: 'AlreadyExists',
  XMinioServerNotInitialized: 'NotReady',
  XMinioIAMNotInitialized: 'NotReady',
  XMinioAdminConfigNoQuorum: 'NotReady',
  ServiceUnavailable: 'NotReady',
  SlowDown: 'NotReady',
  NotImplemented: 'NotImplemented',
};

/**
 * RustFS answers many IAM conditions as a generic InvalidRequest/InvalidArgument (400) or
 * InternalError (500) whose message alone says what happened, and the wording changed across
 * releases. Each pattern names the release source it was read from and the fixture captured
 * from that release (test/fixtures/rustfs/<tag>/…); first match wins.
 */
const BY_RUSTFS_MESSAGE: ReadonlyArray<readonly [RegExp, AdminErrorCode]> = [
  // rustfs/src/auth.rs check_key_valid, alpha.85 and beta.7: a disabled user or account.
  [/^ErrAccessKeyDisabled$/, 'AuthenticationFailed'],
  // admin handlers: `let Ok(iam_store) = rustfs_iam::get() else { … "iam not init" }` (every tag;
  // InvalidRequest or InternalError); from beta.9 the user and policy handlers say "iam is not
  // initialized" (InternalError; rc.3 user.rs:255, policies.rs:148).
  [/\biam (is )?not init/i, 'NotReady'],
  // rc.1+: iam manager.rs add_service_account (rc.3 :791) refuses a key any user, account or
  // STS key holds with AccessKeyAlreadyExists, which handlers/iam_error.rs maps to
  // InvalidArgument (service_account.rs AddServiceAccount) with crates/iam/src/error.rs's text
  // (rc.3 :77); captured on rc.3.
  [/^access key is already in use$/, 'AlreadyExists'],
  // service_account.rs AddServiceAccount: iam sys new_service_account refuses a key that is
  // taken (IAMActionNotAllowed, alpha.85 and beta.7 alike; also when the key is the parent's).
  [/create service account failed, e: IAMActionNotAllowed/, 'AlreadyExists'],
  // alpha.85 InfoServiceAccount/UpdateServiceAccount map every lookup failure, in practice
  // "no such service account", to these; beta.7 keeps the first for a key that is no account,
  // and so does rc.3 (500, service_account.rs map_service_account_lookup_error, :152; captured).
  [/^(get|update) service account failed$/, 'NotFound'],
  // "service account not exist" (delete, 400), "target user not exist" (add, 400), "user not
  // exist" (set-user-or-group-policy, 400), "… 'x' does not exist" (500 on alpha.85, 404 later,
  // also behind "is_temp_user err" and "set_user_status err"; from beta.9 behind "failed to
  // query temporary user state:" and "failed to set user status:").
  [/\b(does )?not exist\b/i, 'NotFound'],
  // set-user-or-group-policy on a missing user from beta.9: 400 InvalidArgument "user not found"
  // (rc.3 handlers/policies.rs:534; captured on rc.3).
  [/^user not found$/i, 'NotFound'],
];

function classify(
  status: number | undefined,
  serverCode: string | undefined,
  message: string,
): AdminErrorCode {
  const byCode = serverCode ? BY_SERVER_CODE[serverCode] : undefined;
  if (byCode) return byCode;
  if (serverCode === 'InvalidRequest' || serverCode === 'InvalidArgument' || serverCode === 'InternalError') {
    const hit = BY_RUSTFS_MESSAGE.find(([re]) => re.test(message));
    if (hit) return hit[1];
  }
  // Older RustFS answers a taken access key with InternalError "… e: AccessKeyAlreadyExists".
  if (/already ?(exist|taken|in use)/i.test(message) || (serverCode && /AlreadyExists?$/.test(serverCode)))
    return 'AlreadyExists';
  if (serverCode && /NoSuch|NotFound/.test(serverCode)) return 'NotFound';
  // RustFS reports an IAM subsystem still loading as a generic InternalError.
  if (/not initiali[sz]ed/i.test(message)) return 'NotReady';
  switch (status) {
    case 401:
      return 'AuthenticationFailed';
    case 403:
      return 'AccessDenied';
    case 404:
      return 'NotFound';
    case 409:
      return 'AlreadyExists';
    case 501:
      return 'NotImplemented';
    case 503:
      return 'NotReady';
  }
  if (status !== undefined && status >= 500) return 'ServerError';
  return 'BadRequest';
}

const CLASSES: Record<AdminErrorCode, new (message: string, init: AdminErrorInit) => AdminError> = {
  AuthenticationFailed,
  AccessDenied,
  NotFound,
  AlreadyExists,
  NotReady,
  BadRequest,
  NotImplemented,
  Unavailable,
  ServerError,
  DecryptionFailed,
  ProtocolError,
};

export function makeError(code: AdminErrorCode, message: string, init: AdminErrorInit): AdminError {
  return new CLASSES[code](message, init);
}

/**
 * Server messages normally describe the request, but a misbehaving server could echo input
 * back; strip anything shaped like a key or long token before it reaches a log.
 */
export function scrubServerMessage(message: string, secrets: readonly string[] = []): string {
  let out = message;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  out = out
    .replace(/Signature=[0-9a-f]+/gi, 'Signature=[redacted]')
    .replace(/[A-Za-z0-9+/=_-]{32,}/g, '[redacted]');
  // Truncate last, so a cut can never leave the prefix of a secret that escaped the match.
  return out.length > 300 ? `${out.slice(0, 300)}…` : out;
}

export interface ServerErrorDetails {
  operation: string;
  status?: number;
  serverCode?: string;
  serverMessage?: string;
  /** What the request was about (user, policy, bucket/key), safe to show. */
  subject?: string;
  /** Values that must never appear in the message even if the server echoed them. */
  secrets?: readonly string[];
}

export function fromServer(d: ServerErrorDetails): AdminError {
  const message = d.serverMessage ? scrubServerMessage(d.serverMessage, d.secrets) : '';
  const code = classify(d.status, d.serverCode, message);
  const parts = [`${d.operation}${d.subject ? ` (${d.subject})` : ''}: ${describe(code)}`];
  const detail = [d.status !== undefined ? `HTTP ${d.status}` : '', d.serverCode ?? '', message]
    .filter(Boolean)
    .join(' ');
  if (detail) parts.push(detail);
  return makeError(code, parts.join(' — '), {
    operation: d.operation,
    status: d.status,
    serverCode: d.serverCode,
  });
}

function describe(code: AdminErrorCode): string {
  switch (code) {
    case 'AuthenticationFailed':
      return 'the store rejected the credentials (unknown access key or wrong secret key)';
    case 'AccessDenied':
      return 'access denied';
    case 'NotFound':
      return 'not found';
    case 'AlreadyExists':
      return 'already exists';
    case 'NotReady':
      return 'the store is not ready yet';
    case 'BadRequest':
      return 'the store rejected the request';
    case 'NotImplemented':
      return 'the store does not implement this operation';
    case 'Unavailable':
      return 'the store is unreachable';
    case 'ServerError':
      return 'the store failed internally';
    case 'DecryptionFailed':
      return 'the encrypted body could not be authenticated';
    case 'ProtocolError':
      return 'unexpected response from the store';
  }
}

/** Network-level failures: connection refused/reset, DNS, our own timeout. */
export function fromNetwork(
  operation: string,
  err: unknown,
  timeoutMs?: number,
  subject?: string,
): AdminError {
  const e = err as { name?: string; code?: string; cause?: { code?: string } } | undefined;
  const sysCode = e?.cause?.code ?? e?.code;
  const what = `${operation}${subject ? ` (${subject})` : ''}`;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new Unavailable(`${what}: the store did not answer within ${timeoutMs ?? '?'} ms`, { operation });
  }
  return new Unavailable(`${what}: the store is unreachable${sysCode ? ` (${sysCode})` : ''}`, { operation });
}
