/**
 * Typed failures of Kubernetes operations. Activities turn these into Temporal failures:
 * `nonRetryable` decides whether retrying can help, `name` becomes the failure type.
 *
 * Messages are built from the request context (verb, resource, namespace, name) and the
 * apiserver's Status reason, never from request or response bodies, so a Secret's
 * value cannot leak into an error, a log line or workflow history.
 */

export interface KubeRequestContext {
  /** The RBAC verb: get, list, watch, create, update, patch, delete. */
  verb: string;
  /** Plural resource, qualified by API group when not core: `secrets`, `deployments.apps`. */
  resource: string;
  namespace?: string;
  name?: string;
}

export abstract class KubeError extends Error {
  abstract readonly nonRetryable: boolean;
  readonly verb: string;
  readonly resource: string;
  readonly namespace?: string;
  readonly objectName?: string;
  readonly statusCode?: number;

  constructor(message: string, ctx: KubeRequestContext, statusCode?: number) {
    super(message);
    this.name = new.target.name;
    this.verb = ctx.verb;
    this.resource = ctx.resource;
    this.namespace = ctx.namespace;
    this.objectName = ctx.name;
    this.statusCode = statusCode;
  }
}

/** 403: retrying cannot grant a permission; on-call must fix the RBAC binding. */
export class KubeForbiddenError extends KubeError {
  readonly nonRetryable = true;
  readonly user?: string;
  constructor(ctx: KubeRequestContext, user?: string) {
    super(
      `RBAC denied: cannot ${ctx.verb} ${ctx.resource}${ctx.name ? ` "${ctx.name}"` : ''}` +
        `${ctx.namespace ? ` in namespace "${ctx.namespace}"` : ' at cluster scope'}` +
        `${user ? ` (user "${user}")` : ''}`,
      ctx,
      403,
    );
    this.user = user;
  }
}

/**
 * 403 from a ValidatingAdmissionPolicy (deploy/rbac/admission-policies.yaml): RBAC allowed the
 * request, the policy refused what it would do. Names the policy; its message is kept except
 * for Secrets (a policy's message may quote the object).
 */
export class KubeAdmissionDeniedError extends KubeForbiddenError {
  readonly policy: string;
  constructor(ctx: KubeRequestContext, policy: string, detail?: string) {
    super(ctx);
    this.message =
      `Admission policy ${policy} denied: cannot ${describe(ctx)}` + (detail ? `: ${detail}` : '');
    this.policy = policy;
  }
}

/** 401: the token itself is rejected (expired, revoked, wrong cluster). */
export class KubeUnauthorizedError extends KubeError {
  readonly nonRetryable = true;
  constructor(ctx: KubeRequestContext) {
    super(`Unauthorized: the apiserver rejected the credentials for ${describe(ctx)}`, ctx, 401);
  }
}

export class KubeNotFoundError extends KubeError {
  readonly nonRetryable = true;
  constructor(ctx: KubeRequestContext) {
    super(`Not found: ${target(ctx)}`, ctx, 404);
  }
}

/** 409: someone else wrote first (or the object already exists). Operations retry these internally. */
export class KubeConflictError extends KubeError {
  readonly nonRetryable = false;
  readonly reason?: string;
  constructor(ctx: KubeRequestContext, reason?: string, detail?: string) {
    super(
      `Conflict${reason ? ` (${reason})` : ''}: ${describe(ctx)}${detail ? `: ${detail}` : ''}`,
      ctx,
      409,
    );
    this.reason = reason;
  }
}

/** 400/422 and other client errors: the request itself is wrong, so it will be wrong again. */
export class KubeInvalidError extends KubeError {
  readonly nonRetryable = true;
  readonly reason?: string;
  constructor(ctx: KubeRequestContext, statusCode: number, reason?: string, detail?: string) {
    super(
      `Rejected by the apiserver (HTTP ${statusCode}${reason ? ` ${reason}` : ''}): ${describe(ctx)}` +
        (detail ? `: ${detail}` : ''),
      ctx,
      statusCode,
    );
    this.reason = reason;
  }
}

/** 5xx, 429, timeouts and connection failures: the apiserver may answer next time. */
export class KubeRetryableError extends KubeError {
  readonly nonRetryable = false;
  constructor(ctx: KubeRequestContext, cause: string, statusCode?: number) {
    super(`Kubernetes unavailable while trying to ${describe(ctx)}: ${cause}`, ctx, statusCode);
  }
}

/**
 * The rollout can make no progress without a human: a paused Deployment, a Deployment past
 * its progress deadline, a strategy `kubectl rollout status` cannot follow.
 */
export class KubeRolloutError extends KubeError {
  readonly nonRetryable = true;
  constructor(message: string, ctx: KubeRequestContext) {
    super(message, ctx);
  }
}

/**
 * The wait ran out of time. Retryable: the rollout may still finish, and the caller decides
 * (RotateRoot pauses, RotateZone compensates). `lastStatus` is kubectl's last progress line.
 */
export class KubeRolloutTimeoutError extends KubeError {
  readonly nonRetryable = false;
  readonly lastStatus: string;
  constructor(ctx: KubeRequestContext, lastStatus: string) {
    super(`timed out waiting for the condition (last status: ${lastStatus || 'none observed'})`, ctx);
    this.lastStatus = lastStatus;
  }
}

function target(ctx: KubeRequestContext): string {
  return `${ctx.resource}${ctx.name ? ` "${ctx.name}"` : ''}${ctx.namespace ? ` in namespace "${ctx.namespace}"` : ''}`;
}

function describe(ctx: KubeRequestContext): string {
  return `${ctx.verb} ${target(ctx)}`;
}

interface StatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: Array<{ field?: string; reason?: string }> };
}

const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Maps whatever @kubernetes/client-node threw (ApiException with `code` and a Status body,
 * a watch error with `statusCode`, a node-fetch/system error with `code`) to a typed error.
 * Already-typed errors pass through unchanged.
 */
export function toKubeError(err: unknown, ctx: KubeRequestContext): KubeError | Error {
  if (err instanceof KubeError) return err;
  if (isAbort(err)) return err as Error;
  const status = httpStatus(err);
  if (status === undefined) {
    const code = systemCode(err);
    if (code && RETRYABLE_NETWORK_CODES.has(code)) return new KubeRetryableError(ctx, code);
    if (err && typeof err === 'object' && (err as { type?: string }).type === 'system') {
      return new KubeRetryableError(ctx, code ?? 'connection error');
    }
    // Unknown shapes keep only their class name: their message might quote a request.
    const kind = err instanceof Error ? err.name : typeof err;
    return new KubeRetryableError(ctx, `unexpected client error (${kind})`);
  }
  const body = statusBody(err);
  switch (status) {
    case 401:
      return new KubeUnauthorizedError(ctx);
    case 403: {
      const denied = admissionDenial(body?.message);
      if (denied)
        return new KubeAdmissionDeniedError(
          ctx,
          denied.policy,
          ctx.resource === 'secrets' ? undefined : denied.detail,
        );
      return new KubeForbiddenError(ctx, userFromMessage(body?.message));
    }
    case 404:
      return new KubeNotFoundError(ctx);
    case 409:
      return new KubeConflictError(ctx, body?.reason, safeDetail(ctx, body));
    case 429:
      return new KubeRetryableError(ctx, 'HTTP 429 too many requests', status);
  }
  if (status >= 500)
    return new KubeRetryableError(ctx, `HTTP ${status}${body?.reason ? ` ${body.reason}` : ''}`, status);
  return new KubeInvalidError(ctx, status, body?.reason, safeDetail(ctx, body));
}

/** True when the error is a 409 the caller may resolve by re-reading and retrying. */
export function isConflict(err: unknown): err is KubeConflictError {
  return err instanceof KubeConflictError;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

function httpStatus(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

function systemCode(err: unknown): string | undefined {
  let e: unknown = err;
  // undici and node-fetch nest the socket error as `cause`.
  for (let depth = 0; depth < 3 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown; errno?: unknown }).code ?? (e as { errno?: unknown }).errno;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function statusBody(err: unknown): StatusBody | undefined {
  const raw = (err as { body?: unknown }).body;
  if (!raw) return undefined;
  if (typeof raw === 'object') return raw as StatusBody;
  if (typeof raw === 'string') {
    try {
      const parsed: unknown = JSON.parse(raw);
      return parsed && typeof parsed === 'object' ? (parsed as StatusBody) : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The apiserver's 403 message names the authenticated user: `User "system:serviceaccount:x:y" cannot ...`. */
export function userFromMessage(message: string | undefined): string | undefined {
  const m = message ? /User "([^"]+)"/.exec(message) : null;
  return m?.[1];
}

/** `… is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: <message>`. */
export function admissionDenial(message: string | undefined): { policy: string; detail: string } | undefined {
  const m = message
    ? /ValidatingAdmissionPolicy '([^']+)' with binding '[^']*' denied request: ([\s\S]*)$/.exec(message)
    : null;
  return m ? { policy: m[1]!, detail: m[2]!.trim() } : undefined;
}

/**
 * For Secrets only the field paths of validation causes are kept: a Status message about a
 * Secret may quote what was sent. Other resources carry no secret material, so their
 * message is kept for on-call.
 */
function safeDetail(ctx: KubeRequestContext, body: StatusBody | undefined): string | undefined {
  if (!body) return undefined;
  if (ctx.resource === 'secrets') {
    const fields = (body.details?.causes ?? []).map((c) => c.field).filter((f): f is string => !!f);
    return fields.length ? `invalid fields: ${fields.join(', ')}` : undefined;
  }
  return body.message;
}
