// Prefect's REST API, only the calls the rotator makes: read a work pool, write its base job
// template. Credentials come from the worker's environment, never from the inventory.

/** PREFECT_API_KEY (Prefect Cloud, bearer) or PREFECT_API_AUTH_STRING (a self-hosted server's "user:password"). */
export interface PrefectAuth {
  apiKey?: string;
  authString?: string;
}

/** From the environment; `fallback` (a sandbox's own server) only when neither variable is set. */
export function prefectAuthFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  fallback: PrefectAuth = {},
): PrefectAuth {
  const fromEnv = {
    apiKey: env.PREFECT_API_KEY || undefined,
    authString: env.PREFECT_API_AUTH_STRING || undefined,
  };
  return fromEnv.apiKey || fromEnv.authString ? fromEnv : fallback;
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

export function createPrefectClient(auth: PrefectAuth) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth.apiKey) headers.authorization = `Bearer ${auth.apiKey}`;
  else if (auth.authString)
    headers.authorization = `Basic ${Buffer.from(auth.authString).toString('base64')}`;

  const call = async (api: string, method: string, path: string, body?: unknown): Promise<unknown> => {
    const url = `${api}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new PrefectError(`Prefect API ${method} ${url}: ${(err as Error).message}`, undefined, true);
    }
    if (res.ok) return res.status === 204 ? undefined : res.json();
    // Prefect's own `detail` says what it refused; nothing the rotator sends is secret.
    const detail = await res.text().then(
      (t) => t.slice(0, 300),
      () => '',
    );
    const hint =
      res.status === 401 || res.status === 403
        ? ' (set PREFECT_API_KEY or PREFECT_API_AUTH_STRING in the worker environment)'
        : '';
    throw new PrefectError(
      `Prefect API ${method} ${url}: HTTP ${res.status}${hint} ${detail}`.trim(),
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
