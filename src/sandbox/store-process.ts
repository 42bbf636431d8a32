import fs from 'node:fs';
import path from 'node:path';
import { ManagedProcess, waitUntil } from './process';
import { toolPath } from './tools';

export type StoreKind = 'minio' | 'rustfs';

export interface RootCredentials {
  accessKey: string;
  secretKey: string;
}

/**
 * One node of a distributed store: every node is started with the same list of drives (one per
 * node, `http://127.0.0.1:<port><dir>`, listed explicitly, as RustFS's own e2e harness does on
 * one host), and serves on its own port, which is its address in that list.
 */
export interface ClusterMember {
  /** Every node's drive, in node order; this node's is the one on its own port. */
  volumes: string[];
  /** The node's name in its log file (store-<name>.log). */
  name: string;
}

/** The drive URL of a node on `port` keeping its data in `dataDir`. */
export function volumeUrl(port: number, dataDir: string): string {
  return `http://127.0.0.1:${port}${path.resolve(dataDir)}`;
}

/** Which store the sandbox runs: MinIO by default, RustFS when its binary is provided. */
export function sandboxStoreKind(): StoreKind {
  const explicit = process.env.ROTATOR_STORE_KIND;
  if (explicit === 'minio' || explicit === 'rustfs') return explicit;
  if (explicit) throw new Error(`ROTATOR_STORE_KIND must be "minio" or "rustfs", got "${explicit}"`);
  const bin = process.env.ROTATOR_STORE_BIN;
  return bin && path.basename(bin).toLowerCase().includes('rustfs') ? 'rustfs' : 'minio';
}

export const STORE_NODES_ENV = 'ROTATOR_STORE_NODES';

/**
 * How many store nodes the sandbox runs (`source` names where `raw` came from, for the error):
 * 1, one process on a data directory; or 4 to 16, a distributed store with one drive per node,
 * at least 4 for an erasure set that keeps serving with a node down.
 */
export function parseStoreNodes(raw: string | undefined, source = STORE_NODES_ENV): number {
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || !(n === 1 || (n >= 4 && n <= 16))) {
    throw new Error(
      `${source} must be 1 (one store process) or 4 to 16 (a distributed store, one drive per node), got "${raw}"`,
    );
  }
  return n;
}

export function readinessPath(kind: StoreKind): string {
  return kind === 'minio' ? '/minio/health/ready' : '/health/ready';
}

/**
 * The object-store process. Root credentials reach it only through its environment, as
 * they would through a pod's env from the root Secret; data survives restarts.
 */
export class StoreProcess {
  private proc: ManagedProcess | undefined;
  readonly endpoint: string;

  constructor(
    readonly kind: StoreKind,
    readonly port: number,
    private readonly dataDir: string,
    private readonly logDir: string,
    private readonly member?: ClusterMember,
  ) {
    this.endpoint = `http://127.0.0.1:${port}`;
    fs.mkdirSync(dataDir, { recursive: true });
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /**
   * `env` is the rest of the pod's environment (RUSTFS_RPC_SECRET, for one); the root reaches the
   * process under the names its kind reads.
   */
  async start(root: RootCredentials, onExit: () => void, env: Record<string, string> = {}): Promise<void> {
    const address = `127.0.0.1:${this.port}`;
    const drives = this.member?.volumes ?? [this.dataDir];
    const [args, storeEnv] =
      this.kind === 'minio'
        ? [
            ['server', ...drives, '--address', address, '--quiet'],
            {
              MINIO_ROOT_USER: root.accessKey,
              MINIO_ROOT_PASSWORD: root.secretKey,
              MINIO_BROWSER: 'off',
              // Distributed on one host: MinIO takes a machine with /.dockerenv for a container and
              // then waits for every loopback host to resolve to another address, unless the node's
              // own endpoint is named local; and it refuses drives on the root disk outside CI mode.
              ...(this.member ? { _MINIO_SERVER_LOCAL: address, MINIO_CI_CD: '1' } : {}),
            },
          ]
        : [
            this.member ? [] : ['--address', address, this.dataDir],
            {
              RUSTFS_ACCESS_KEY: root.accessKey,
              RUSTFS_SECRET_KEY: root.secretKey,
              RUSTFS_CONSOLE_ENABLE: 'false',
              // Distributed mode: the drives of every node, this node's address among them, and
              // no distinct-disk check (all drives share one filesystem here, as in RustFS's e2e).
              ...(this.member
                ? {
                    RUSTFS_VOLUMES: drives.join(' '),
                    RUSTFS_ADDRESS: address,
                    RUSTFS_UNSAFE_BYPASS_DISK_CHECK: 'true',
                    // rc.3: a node restarted while the data scanner's remote namespace scan ran
                    // left a peer that had not restarted hung (its server info and every node's
                    // /minio/health/cluster timing out) until the node restarted again — half the
                    // paused-roll runs in the sandbox. The scanner is not what a rotation tests;
                    // operating.md says what the rotator does when a store does this.
                    RUSTFS_SCANNER_ENABLED: 'false',
                  }
                : {}),
            },
          ];
    this.proc = new ManagedProcess({
      name: this.member ? `store-${this.member.name}` : 'store',
      command: toolPath('minio'),
      args,
      env: { ...env, ...storeEnv },
      logDir: this.logDir,
    });
    this.proc.start(onExit);
  }

  async waitReady(timeoutMs: number): Promise<void> {
    await waitUntil('object store', () => this.ready(), { timeoutMs, process: this.proc });
  }

  /**
   * The readiness endpoint answers 200 and the S3 API no longer refuses with 503: a RustFS node
   * of a distributed store (1.0.0-rc.3) answers /health/ready 200 about a second before it
   * stops answering requests with 503 "Service not ready: waiting for startup_finalization".
   * An anonymous `GET /` is refused (403) once the API serves.
   */
  async ready(): Promise<boolean> {
    try {
      const health = await fetch(`${this.endpoint}${readinessPath(this.kind)}`, {
        signal: AbortSignal.timeout(2000),
      });
      await health.arrayBuffer();
      if (!health.ok) return false;
      const api = await fetch(`${this.endpoint}/`, { signal: AbortSignal.timeout(2000) });
      await api.arrayBuffer();
      return api.status !== 503;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop(10_000);
  }
}
