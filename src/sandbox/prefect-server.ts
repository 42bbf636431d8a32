import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { canonicalPrefectApi } from '../inventory/schema';
import { createPrefectClient, type PrefectAuth } from '../prefect/client';
import { freePort } from './ports';
import { ManagedProcess, waitUntil } from './process';
import { toolPath } from './tools';

export interface PrefectServer {
  /** http://127.0.0.1:<port>/api */
  api: string;
  /** The server's basic-auth "user:password": what a worker gets in PREFECT_API_AUTH_STRING. */
  authString: string;
  process: ManagedProcess;
}

/**
 * `prefect server start` on its own SQLite database in the sandbox dir, behind basic auth so
 * the worker's Prefect credentials are exercised. No UI, no services, no telemetry; ready
 * once GET /api/health answers.
 */
export async function startPrefect(
  dir: string,
  log: (msg: string) => void,
  opts: { started?: ManagedProcess[] } = {},
): Promise<PrefectServer> {
  const home = path.join(dir, 'prefect');
  fs.mkdirSync(home, { recursive: true });
  const port = await freePort();
  const authString = `sandbox:${randomBytes(12).toString('hex')}`;
  const proc = new ManagedProcess({
    name: 'prefect',
    command: toolPath('prefect'),
    // The API only (in this process, no uvicorn child): the scheduler and the other loop
    // services have nothing to do here and only slow the start-up on two cores.
    args: ['server', 'start', '--host', '127.0.0.1', '--port', String(port), '--no-services'],
    env: {
      PREFECT_HOME: home,
      PREFECT_API_DATABASE_CONNECTION_URL: `sqlite+aiosqlite:///${path.join(home, 'prefect.db')}`,
      PREFECT_SERVER_API_AUTH_STRING: authString,
      PREFECT_SERVER_UI_ENABLED: 'false',
      PREFECT_SERVER_ANALYTICS_ENABLED: 'false',
      PREFECT_SERVER_LOGGING_LEVEL: 'WARNING',
      // The sandbox's own server, not whatever profile the machine has.
      PREFECT_API_URL: '',
      PREFECT_PROFILES_PATH: path.join(home, 'profiles.toml'),
    },
    logDir: path.join(dir, 'logs'),
  });
  proc.start((code) => log(`prefect exited unexpectedly (code ${code}); see ${proc.logFile}`));
  opts.started?.push(proc);
  const api = `http://127.0.0.1:${port}/api`;
  const auth = `Basic ${Buffer.from(authString).toString('base64')}`;
  await waitUntil(
    'prefect server',
    async () => (await fetch(`${api}/health`, { headers: { authorization: auth } })).ok,
    { timeoutMs: 120_000, intervalMs: 300, process: proc },
  );
  log(`prefect ready on ${api}`);
  return { api, authString, process: proc };
}

/**
 * The seed's work pool as `make prefect-up` leaves it: type kubernetes with Prefect's
 * default Kubernetes template, no injection yet (BootstrapCluster installs it).
 */
export async function createSeedPool(api: string, auth: PrefectAuth, pool: string): Promise<void> {
  const prefect = createPrefectClient(new Map([[canonicalPrefectApi(api), auth]]));
  const template = await prefect.defaultTemplate(api, 'kubernetes');
  await prefect.createPool(api, pool, 'kubernetes', template);
}
