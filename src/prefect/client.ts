// Prefect's REST API, only the calls the rotator makes: read a work pool, write its base job
// template. Credentials come from the worker's environment, never from the inventory, and each
// goes only to the Prefect API it is for.
import { canonicalPrefectApi } from '../inventory/schema';

/** One Prefect server's credential: an API key (Prefect Cloud, bearer) or a self-hosted server's "user:password". */
export interface PrefectAuth {
  apiKey?: string;
  authString?: string;
}

/**
 * Which credential goes to which Prefect API, keyed by the API URL (no trailing slash, as the
 * inventory keeps it). An API with no entry gets no credential: one server's key never
 * reaches another host the inventory names.
 */
export type PrefectCredentials = ReadonlyMap<string, PrefectAuth>;

export const PREFECT_CREDENTIAL_VARIABLES = {
  PREFECT_API_URL: 'the Prefect API that PREFECT_API_KEY or PREFECT_API_AUTH_STRING is for',
  PREFECT_API_KEY: 'Prefect Cloud API key (bearer), sent only to PREFECT_API_URL',
  PREFECT_API_AUTH_STRING:
    'a self-hosted Prefect server\'s basic-auth "user:password", sent only to PREFECT_API_URL',
  ROTATOR_PREFECT_CREDENTIALS:
    'several Prefect servers: a JSON object {"<api url>": {"apiKey": "…"} or {"authString": "…"}, …}',
} as const;

/**
 * From the environment: PREFECT_API_URL with PREFECT_API_KEY or PREFECT_API_AUTH_STRING (Prefect's
 * own variables: that credential, for that API) and ROTATOR_PREFECT_CREDENTIALS for several
 * servers. `fallback` (a sandbox's own server) only when none is set. A bad value throws naming
 * the variable, never quoting it.
 */
export function prefectCredentialsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  fallback?: { api: string; auth: PrefectAuth },
): PrefectCredentials {
  const credentials = new Map<string, PrefectAuth>();
  const apiKey = env.PREFECT_API_KEY || undefined;
  const authString = env.PREFECT_API_AUTH_STRING || undefined;
  if (apiKey && authString)
    throw new Error('PREFECT_API_KEY and PREFECT_API_AUTH_STRING are both set: a server takes one of them');
  if (apiKey || authString) {
    const variable = apiKey ? 'PREFECT_API_KEY' : 'PREFECT_API_AUTH_STRING';
    if (!env.PREFECT_API_URL)
      throw new Error(
        `${variable} is sent only to the Prefect API that PREFECT_API_URL names: set PREFECT_API_URL ` +
          '(several servers: ROTATOR_PREFECT_CREDENTIALS)',
      );
    credentials.set(canonicalPrefectApi(env.PREFECT_API_URL), apiKey ? { apiKey } : { authString });
  }
  if (env.ROTATOR_PREFECT_CREDENTIALS) {
    for (const [api, auth] of parseCredentialMap(env.ROTATOR_PREFECT_CREDENTIALS)) {
      if (credentials.has(api))
        throw new Error(
          `ROTATOR_PREFECT_CREDENTIALS: ${api} is also PREFECT_API_URL; give its credential once`,
        );
      credentials.set(api, auth);
    }
  }
  if (credentials.size === 0 && fallback) credentials.set(canonicalPrefectApi(fallback.api), fallback.auth);
  return credentials;
}

function parseCredentialMap(text: string): [string, PrefectAuth][] {
  const bad = (why: string) =>
    new Error(
      `ROTATOR_PREFECT_CREDENTIALS: ${why}; expected ${PREFECT_CREDENTIAL_VARIABLES.ROTATOR_PREFECT_CREDENTIALS}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('not a JSON object');
  return Object.entries(parsed).map(([api, auth]) => {
    if (!/^https?:\/\//.test(api)) throw bad(`key "${api.slice(0, 100)}" is not an http(s) URL`);
    const a = auth as Record<string, unknown> | null;
    const keys = a && typeof a === 'object' ? Object.keys(a) : [];
    const [key] = keys;
    if (
      keys.length !== 1 ||
      (key !== 'apiKey' && key !== 'authString') ||
      typeof a![key] !== 'string' ||
      !a![key]
    )
      throw bad(`the value for ${api} must hold exactly one non-empty "apiKey" or "authString"`);
    return [canonicalPrefectApi(api), { [key]: a![key] as string }];
  });
}

export interface WorkPool {
  name: string;
  type: string;
  base_job_template: Record<string, unknown>;
}

/** A failed call; `retryable` is false for answers that will not change by asking again. */
export class PrefectError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'PrefectError';
  }
}

const TIMEOUT_MS = 15_000;

export function createPrefectClient(credentials: PrefectCredentials) {
  const headersFor = (api: string): Record<string, string> => {
    const auth = credentials.get(canonicalPrefectApi(api));
    if (auth?.apiKey) return { 'content-type': 'application/json', authorization: `Bearer ${auth.apiKey}` };
    if (auth?.authString)
      return {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from(auth.authString).toString('base64')}`,
      };
    return { 'content-type': 'application/json' };
  };

  const call = async (api: string, method: string, path: string, body?: unknown): Promise<unknown> => {
    const url = `${api}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: headersFor(api),
        body: body === undefined ? undefined : JSON.stringify(body),
        // A redirect would carry the credential to wherever it points.
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new PrefectError(`Prefect API ${method} ${url}: ${(err as Error).message}`, undefined, true);
    }
    if (res.ok) return res.status === 204 ? undefined : res.json();
    // Neither the body nor a redirect's target reaches the failure: a failure is recorded in
    // the workflow history, and a server's answer may echo what it was sent.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 300 && res.status < 400)
      throw new PrefectError(
        `Prefect API ${method} ${url}: HTTP ${res.status}, a redirect: not followed (the credential for ${api} goes nowhere else); ` +
          "set the work pool's api to the URL Prefect serves",
        res.status,
        false,
      );
    const hint =
      res.status === 401 || res.status === 403
        ? ` (set the credential for ${api} in the worker environment: PREFECT_API_URL with PREFECT_API_KEY or PREFECT_API_AUTH_STRING, or ROTATOR_PREFECT_CREDENTIALS)`
        : '';
    throw new PrefectError(
      `Prefect API ${method} ${url}: HTTP ${res.status}${hint}`,
      res.status,
      res.status >= 500 || res.status === 429,
    );
  };
  const poolPath = (pool: string) => `/work_pools/${encodeURIComponent(pool)}`;

  return {
    async readPool(api: string, pool: string): Promise<WorkPool> {
      return (await call(api, 'GET', poolPath(pool))) as WorkPool;
    },
    async writeTemplate(api: string, pool: string, template: Record<string, unknown>): Promise<void> {
      await call(api, 'PATCH', poolPath(pool), { base_job_template: template });
    },
    async createPool(
      api: string,
      pool: string,
      type: string,
      template: Record<string, unknown>,
    ): Promise<void> {
      await call(api, 'POST', '/work_pools/', { name: pool, type, base_job_template: template });
    },
    async deletePool(api: string, pool: string): Promise<void> {
      await call(api, 'DELETE', poolPath(pool));
    },
    /** The default base job template Prefect offers for a worker type (the collection registry's). */
    async defaultTemplate(api: string, type: string): Promise<Record<string, unknown>> {
      const view = (await call(api, 'GET', '/collections/views/aggregate-worker-metadata')) as Record<
        string,
        Record<string, { default_base_job_configuration?: Record<string, unknown> }>
      >;
      for (const collection of Object.values(view)) {
        const t = collection[type]?.default_base_job_configuration;
        if (t) return t;
      }
      throw new PrefectError(
        `Prefect at ${api} knows no default template for worker type "${type}"`,
        404,
        false,
      );
    },
  };
}

export type PrefectClient = ReturnType<typeof createPrefectClient>;
