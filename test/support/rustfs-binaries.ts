/**
 * The real RustFS server binaries shipped beside the repository (../shared/rustfs/*.xz), unpacked
 * into the tool cache on first use, and a way to start one on a free loopback port. Tests are the
 * only users: src/ never references ../shared.
 *
 * A binary that cannot be unpacked or started throws with the reason: a suite meant to run on
 * every release must fail loudly, not quietly test fewer.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RustfsBinary {
  /** The release tag, from the file name: `rustfs-<tag>.xz`. */
  tag: string;
  /** The unpacked, executable server. */
  path: string;
}

const SHARED_DIR = path.resolve(__dirname, '..', '..', '..', 'shared', 'rustfs');

export function rustfsCacheDir(): string {
  const tools = process.env.ROTATOR_TOOLS_DIR ?? path.join(os.homedir(), '.cache', 'rustfs-rotator', 'tools');
  return path.join(path.dirname(tools), 'rustfs');
}

/** Every binary in ../shared/rustfs, unpacked (once) into `<cache>/rustfs/<tag>/rustfs`. */
export function rustfsBinaries(
  sharedDir = process.env.ROTATOR_RUSTFS_SHARED_DIR ?? SHARED_DIR,
): RustfsBinary[] {
  if (!fs.existsSync(sharedDir)) {
    throw new Error(`no RustFS binaries: ${sharedDir} does not exist (it holds rustfs-<tag>.xz files)`);
  }
  const files = fs
    .readdirSync(sharedDir)
    .filter((f) => /^rustfs-.+\.xz$/.test(f))
    .sort();
  if (files.length === 0) throw new Error(`no rustfs-<tag>.xz file in ${sharedDir}`);
  return files.map((f) => unpack(path.join(sharedDir, f)));
}

/** The tag a binary path was unpacked for (`…/rustfs/<tag>/rustfs`), else the file name. */
export function rustfsTagOf(bin: string): string {
  const parent = path.basename(path.dirname(bin));
  if (/^\d+\.\d+\.\d+/.test(parent)) return parent;
  const m = /rustfs-(\d+\.\d+\.\d+[^/]*?)(?:\.xz)?$/.exec(path.basename(bin));
  return m ? m[1]! : path.basename(bin);
}

function unpack(xzFile: string): RustfsBinary {
  const tag = /^rustfs-(.+)\.xz$/.exec(path.basename(xzFile))![1]!;
  const dir = path.join(rustfsCacheDir(), tag);
  const bin = path.join(dir, 'rustfs');
  const srcStat = fs.statSync(xzFile);
  const stamp = path.join(dir, '.source');
  const want = `${xzFile} ${srcStat.size} ${srcStat.mtimeMs}`;
  if (fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) {
    return { tag, path: bin };
  }
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    const out = fs.openSync(tmp, 'w', 0o755);
    try {
      execFileSync('xz', ['-dc', xzFile], { stdio: ['ignore', out, 'pipe'], maxBuffer: 1 << 20 });
    } finally {
      fs.closeSync(out);
    }
    fs.chmodSync(tmp, 0o755);
    fs.renameSync(tmp, bin);
    fs.writeFileSync(stamp, want);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const e = err as { stderr?: Buffer; message?: string };
    throw new Error(
      `cannot unpack RustFS ${tag} from ${xzFile} into ${bin}: ${e.stderr?.toString().trim() || e.message} ` +
        `(needs \`xz\`: apt-get install xz-utils)`,
    );
  }
  return { tag, path: bin };
}

export interface RunningRustfs {
  endpoint: string;
  port: number;
  dataDir: string;
  logFile: string;
  root: { accessKey: string; secretKey: string };
  /** Restart on the same data, optionally with another root credential or extra environment. */
  restart(opts?: {
    root?: { accessKey: string; secretKey: string };
    env?: Record<string, string>;
  }): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `bin` on a fresh data dir and waits until `/health/ready` answers 200 (the path every
 * release serves). Throws with the log's tail when it exits or is not ready within `timeoutMs`.
 */
export async function startRustfs(
  bin: string,
  opts: { root: { accessKey: string; secretKey: string }; env?: Record<string, string>; timeoutMs?: number },
): Promise<RunningRustfs> {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-rustfs-'));
  fs.mkdirSync(path.join(dataDir, 'data'));
  const logFile = path.join(dataDir, 'rustfs.log');
  const endpoint = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const state = { root: opts.root, env: opts.env ?? {} };

  const launch = async () => {
    const log = fs.openSync(logFile, 'a');
    const child = spawn(bin, ['--address', `127.0.0.1:${port}`, path.join(dataDir, 'data')], {
      env: {
        ...process.env,
        ...state.env,
        RUSTFS_ACCESS_KEY: state.root.accessKey,
        RUSTFS_SECRET_KEY: state.root.secretKey,
        RUSTFS_CONSOLE_ENABLE: 'false',
      },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    proc = child;
    let spawnError: Error | undefined;
    child.once('error', (e) => (spawnError = e));
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const tail = () => fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n');
    for (;;) {
      if (spawnError) throw new Error(`cannot start RustFS ${bin}: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `RustFS ${bin} exited (${child.exitCode ?? child.signalCode}); log ${logFile}:\n${tail()}`,
        );
      }
      try {
        const res = await fetch(`${endpoint}/health/ready`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(
          `RustFS ${bin} not ready after ${(opts.timeoutMs ?? 60_000) / 1000} s; log ${logFile}:\n${tail()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const kill = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await exited;
    }
  };

  try {
    await launch();
  } catch (err) {
    await kill();
    throw err;
  }
  const running: RunningRustfs = {
    endpoint,
    port,
    dataDir,
    logFile,
    get root() {
      return state.root;
    },
    async restart(r) {
      await kill();
      if (r?.root) state.root = r.root;
      if (r?.env) state.env = r.env;
      await launch();
    },
    async stop() {
      await kill();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return running;
}

export interface RunningRustfsCluster {
  /** Each node's endpoint, in node order. */
  endpoints: string[];
  /** Stops node `i` (SIGTERM), as a pod going away would. */
  stopNode(i: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `nodes` RustFS processes of `bin` on loopback as one distributed cluster, one drive each, every
 * drive listed explicitly on every node, as the sandbox's distributed store runs them (and
 * RustFS's own e2e harness, crates/e2e_test/src/common.rs). Resolves once every node answers
 * `/health/ready` 200 and its S3 API no longer answers 503.
 */
export async function startRustfsCluster(
  bin: string,
  opts: { root: { accessKey: string; secretKey: string }; nodes?: number; env?: Record<string, string> },
): Promise<RunningRustfsCluster> {
  const n = opts.nodes ?? 4;
  const ports: number[] = [];
  while (ports.length < n) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-rustfs-cluster-'));
  const drives = ports.map((p, i) => {
    fs.mkdirSync(path.join(dir, `n${i}`));
    return `http://127.0.0.1:${p}${path.join(dir, `n${i}`)}`;
  });
  const procs: ChildProcess[] = ports.map((p, i) => {
    const log = fs.openSync(path.join(dir, `n${i}.log`), 'a');
    const child = spawn(bin, [], {
      env: {
        ...process.env,
        ...opts.env,
        RUSTFS_VOLUMES: drives.join(' '),
        RUSTFS_ADDRESS: `127.0.0.1:${p}`,
        RUSTFS_UNSAFE_BYPASS_DISK_CHECK: 'true',
        RUSTFS_ACCESS_KEY: opts.root.accessKey,
        RUSTFS_SECRET_KEY: opts.root.secretKey,
        RUSTFS_CONSOLE_ENABLE: 'false',
      },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    return child;
  });
  const endpoints = ports.map((p) => `http://127.0.0.1:${p}`);
  const stopNode = async (i: number) => {
    const p = procs[i]!;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      await exited;
    }
  };
  const stop = async () => {
    await Promise.all(procs.map((_, i) => stopNode(i)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const serving = async (endpoint: string) => {
    try {
      const health = await fetch(`${endpoint}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await health.arrayBuffer();
      const api = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
      await api.arrayBuffer();
      return health.ok && api.status !== 503;
    } catch {
      return false;
    }
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    const exited = procs.findIndex((p) => p.exitCode !== null || p.signalCode !== null);
    if (exited >= 0 || Date.now() > deadline) {
      const tail = fs.readFileSync(path.join(dir, `n${Math.max(exited, 0)}.log`), 'utf8');
      await stop();
      throw new Error(
        `RustFS cluster of ${bin}: ${exited >= 0 ? `node ${exited} exited` : 'not ready after 120 s'}:\n${tail.split('\n').slice(-15).join('\n')}`,
      );
    }
    if ((await Promise.all(endpoints.map(serving))).every(Boolean)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return { endpoints, stopNode, stop };
}
