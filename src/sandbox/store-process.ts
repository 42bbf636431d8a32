import fs from 'node:fs';
import path from 'node:path';
import { ManagedProcess, waitUntil } from './process';
import { toolPath } from './tools';

export type StoreKind = 'minio' | 'rustfs';

export interface RootCredentials {
  accessKey: string;
  secretKey: string;
}

/** Which store the sandbox runs: MinIO by default, RustFS when its binary is provided. */
export function sandboxStoreKind(): StoreKind {
  const explicit = process.env.ROTATOR_STORE_KIND;
  if (explicit === 'minio' || explicit === 'rustfs') return explicit;
  if (explicit) throw new Error(`ROTATOR_STORE_KIND must be "minio" or "rustfs", got "${explicit}"`);
  const bin = process.env.ROTATOR_STORE_BIN;
  return bin && path.basename(bin).toLowerCase().includes('rustfs') ? 'rustfs' : 'minio';
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
    private readonly port: number,
    private readonly dataDir: string,
    private readonly logDir: string,
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

  async start(root: RootCredentials, onExit: () => void): Promise<void> {
    const address = `127.0.0.1:${this.port}`;
    const [args, env] =
      this.kind === 'minio'
        ? [
            ['server', this.dataDir, '--address', address, '--quiet'],
            { MINIO_ROOT_USER: root.accessKey, MINIO_ROOT_PASSWORD: root.secretKey, MINIO_BROWSER: 'off' },
          ]
        : [
            ['--address', address, this.dataDir],
            {
              RUSTFS_ACCESS_KEY: root.accessKey,
              RUSTFS_SECRET_KEY: root.secretKey,
              RUSTFS_CONSOLE_ENABLE: 'false',
            },
          ];
    this.proc = new ManagedProcess({
      name: 'store',
      command: toolPath('minio'),
      args,
      env,
      logDir: this.logDir,
    });
    this.proc.start(onExit);
  }

  async waitReady(timeoutMs: number): Promise<void> {
    await waitUntil(
      'object store',
      async () => (await fetch(`${this.endpoint}${readinessPath(this.kind)}`)).ok,
      { timeoutMs, process: this.proc },
    );
  }

  async ready(): Promise<boolean> {
    try {
      return (
        await fetch(`${this.endpoint}${readinessPath(this.kind)}`, { signal: AbortSignal.timeout(2000) })
      ).ok;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    await this.proc?.stop(10_000);
  }
}
