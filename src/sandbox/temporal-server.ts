import net from 'node:net';
import path from 'node:path';
import { freePort } from './ports';
import { ManagedProcess, waitUntil } from './process';
import { toolPath } from './tools';

/**
 * A second Temporal namespace on the same server: a staging or DR worker pointed at the same
 * cluster, whose runs the sandbox's own namespace cannot see (test/e2e/namespaces.test.ts).
 */
export const SANDBOX_SECOND_NAMESPACE = 'rotator-dr';

/** Search attributes the workflows upsert, so on-call can filter runs by zone and kind. */
export const SEARCH_ATTRIBUTES = { RotatorZone: 'Keyword', RotatorKind: 'Keyword' } as const;

export interface TemporalServer {
  address: string;
  uiUrl: string;
  namespace: string;
  process: ManagedProcess;
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** `temporal server start-dev`: SQLite-backed dev server with the Web UI. */
export async function startTemporal(
  dir: string,
  log: (msg: string) => void,
  opts: {
    codecEndpoint?: string;
    /** The Web UI's port, when the caller needs it first (the codec server allows its origin). */
    uiPort?: number;
    started?: ManagedProcess[];
  } = {},
): Promise<TemporalServer> {
  const [port, uiPort, httpPort, metricsPort] = await Promise.all([
    freePort(),
    opts.uiPort ?? freePort(),
    freePort(),
    freePort(),
  ]);
  const proc = new ManagedProcess({
    name: 'temporal',
    command: toolPath('temporal'),
    args: [
      'server',
      'start-dev',
      '--ip=127.0.0.1',
      `--port=${port}`,
      `--ui-port=${uiPort}`,
      `--http-port=${httpPort}`,
      `--metrics-port=${metricsPort}`,
      `--db-filename=${path.join(dir, 'temporal.db')}`,
      '--log-level=warn',
      `--namespace=${SANDBOX_SECOND_NAMESPACE}`,
      // The Web UI asks this endpoint to decrypt payloads, so on-call reads them in clear.
      ...(opts.codecEndpoint ? [`--ui-codec-endpoint=${opts.codecEndpoint}`] : []),
      ...Object.entries(SEARCH_ATTRIBUTES).map(([k, v]) => `--search-attribute=${k}=${v}`),
    ],
    logDir: path.join(dir, 'logs'),
  });
  proc.start((code) => log(`temporal exited unexpectedly (code ${code}); see ${proc.logFile}`));
  opts.started?.push(proc);
  await waitUntil('temporal dev server', async () => (await tcpOpen(port)) && (await tcpOpen(uiPort)), {
    timeoutMs: 60_000,
    process: proc,
  });
  const uiUrl = `http://127.0.0.1:${uiPort}`;
  log(`temporal ready on 127.0.0.1:${port}, Web UI ${uiUrl}`);
  return { address: `127.0.0.1:${port}`, uiUrl, namespace: 'default', process: proc };
}
