import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sandboxInventory } from '../../src/sandbox/inventory';
import { SANDBOX_STATE_ENV, type SandboxState } from '../../src/sandbox/state';
import { startWorker, type RunningWorker } from '../../src/worker/main';
import { loadWorkerConfig } from '../../src/worker/config';
import { entryArgs, testWorkflowBundle } from './build';

const ROOT = path.join(__dirname, '..', '..');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rotator <args>` as a subprocess, exactly as a user would (the run's compiled CLI, else tsx). */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 180_000,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entryArgs('cli'), ...args], {
      cwd: ROOT,
      env: { ...process.env, AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `rotator ${args.join(' ')} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** The last JSON document a command printed (--json prints exactly one). */
export function json<T = Record<string, unknown>>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

export interface CliFixture {
  worker: RunningWorker;
  taskQueue: string;
  codecKey: string;
  inventoryFile: string;
  dir: string;
  /** Env for CLI subprocesses: the sandbox, this worker's task queue and codec key. */
  env: Record<string, string>;
  /**
   * Terminates what still runs on this task queue (IDs are locks shared by the whole suite:
   * a run left behind would block later tests), then stops the worker.
   */
  close(): Promise<void>;
}

/**
 * A worker built by src/worker/main.ts's own loadWorkerConfig/startWorker (in this process) on a
 * private task queue, with a payload codec key the CLI subprocesses share through the env.
 */
export async function startCliWorker(
  stack: SandboxState,
  overrides: {
    grace?: string;
    restartTimeout?: string;
    pauseTimeout?: string;
    /**
     * 'own' (default): a fresh key shared only by this worker and the CLI subprocesses.
     * 'sandbox': the sandbox's key, which its codec server (and so its Web UI) uses.
     */
    codec?: 'own' | 'sandbox';
    /**
     * A private sandbox (test/support/private-sandbox.ts) whose state `stack` is: the worker and
     * the CLI subprocesses take its state file and its inventory. Default: the shared stack's.
     */
    sandbox?: { stateFile: string; inventorySource: string };
  } = {},
): Promise<CliFixture> {
  const { codec = 'own', sandbox, ...inventoryOverrides } = overrides;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotator-cli-test-'));
  const stateFile = sandbox?.stateFile ?? process.env[SANDBOX_STATE_ENV]!;
  const inventoryFile = path.join(dir, 'inventory.yaml');
  fs.writeFileSync(
    inventoryFile,
    sandboxInventory(stack, inventoryOverrides, ...(sandbox ? [sandbox.inventorySource] : [])),
  );
  const taskQueue = `cli-test-${randomBytes(3).toString('hex')}`;
  const codecKey = codec === 'sandbox' ? stack.codec.key : randomBytes(32).toString('base64');
  const env: Record<string, string> = {
    [SANDBOX_STATE_ENV]: stateFile,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ROTATOR_CODEC_KEY: codecKey,
    ...(codec === 'sandbox' ? { ROTATOR_CODEC_KEY_ID: stack.codec.keyId } : {}),
  };
  const config = await loadWorkerConfig({
    ...env,
    ROTATOR_CONFIG: inventoryFile,
    ROTATOR_LOG_LEVEL: 'warn',
    ROTATOR_SHUTDOWN_GRACE: '2s',
  });
  const worker = await startWorker(config, {
    log: { debug() {}, info() {}, warn() {}, error() {} },
    // Long waits (the store's restart) poll as often as the other tests' workers do.
    pollIntervalMs: 200,
    workflowBundle: testWorkflowBundle(),
  });
  return {
    worker,
    taskQueue,
    codecKey,
    inventoryFile,
    dir,
    env,
    async close() {
      for await (const wf of worker.client.workflow.list({
        query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'`,
      })) {
        await worker.client.workflow
          .getHandle(wf.workflowId, wf.runId)
          .terminate('test cleanup')
          .catch(() => undefined);
      }
      await worker.shutdown();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
