import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface ProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
  logDir: string;
}

const SETPRIV = '/usr/bin/setpriv';

/**
 * A child of the sandbox. It is started under `setpriv --pdeathsig KILL` where available,
 * so that even a SIGKILLed sandbox leaves no process behind.
 */
export class ManagedProcess {
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private stopping = false;

  constructor(private readonly opts: ProcessOptions) {
    this.logFile = path.join(opts.logDir, `${opts.name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(onUnexpectedExit?: (code: number | null, signal: NodeJS.Signals | null) => void): void {
    fs.mkdirSync(this.opts.logDir, { recursive: true });
    const out = fs.openSync(this.logFile, 'a');
    const [cmd, args] = fs.existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'KILL', '--', this.opts.command, ...this.opts.args]]
      : [this.opts.command, this.opts.args];
    this.stopping = false;
    const child = spawn(cmd, args, {
      cwd: this.opts.cwd,
      env: { ...process.env, ...this.opts.env },
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        if (!this.stopping) onUnexpectedExit?.(code, signal);
        resolve(code);
      });
      child.on('error', (err) => {
        fs.appendFileSync(this.logFile, `\nspawn failed: ${err.message}\n`);
        if (!this.stopping) onUnexpectedExit?.(null, null);
        resolve(null);
      });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.stopping = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Last lines of the log, for start-up errors. */
  tail(lines = 25): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/**
 * Polls `probe` until it returns true; fails with the process's log tail when it dies
 * or when `timeoutMs` passes, so a start-up failure says why.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; process?: ManagedProcess },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (opts.process && !opts.process.running) {
      throw new Error(
        `${what}: process exited during start-up. Log ${opts.process.logFile}:\n${opts.process.tail()}`,
      );
    }
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      const log = opts.process ? `\nLog ${opts.process.logFile}:\n${opts.process.tail()}` : '';
      throw new Error(`${what}: not ready after ${Math.round(opts.timeoutMs / 1000)}s${log}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
