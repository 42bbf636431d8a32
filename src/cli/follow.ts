// Watches a run through its `status` query and prints each step as it happens: a live
// progress line in a terminal, plain lines otherwise (logs, CI, pipes).
import { type WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../workflows/definitions';
import { type StepRecord, type WorkflowResult, type WorkflowStatus } from '../workflows/types';
import { ms } from './output';
import { nextActions, renderStep } from './render';

export interface FollowOptions {
  /** Where lines go (stdout by default). */
  write?: (text: string) => void;
  tty?: boolean;
  pollMs?: number;
  /** Called for each finished step (and phase change), e.g. to stream JSON. */
  onStep?: (step: StepRecord) => void;
  /** Called each time the status changes, e.g. to react to a phase. */
  onStatus?: (status: WorkflowStatus) => void | Promise<void>;
}

export interface Followed {
  result?: WorkflowResult;
  error?: unknown;
  status?: WorkflowStatus;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export async function follow(handle: WorkflowHandle, opts: FollowOptions = {}): Promise<Followed> {
  const write = opts.write ?? ((t: string) => process.stdout.write(t));
  const tty = opts.tty ?? Boolean(process.stdout.isTTY);
  const pollMs = opts.pollMs ?? 500;
  const printed = new Map<number, StepRecord['state']>();
  let lastPhase: string | undefined;
  let live = '';
  let tick = 0;
  let status: WorkflowStatus | undefined;

  const line = (text: string) => {
    if (tty && live) write('\r\x1b[K');
    write(`${text}\n`);
    if (tty && live) write(live);
  };
  const setLive = (text: string) => {
    if (!tty) return;
    live = text;
    write(`\r\x1b[K${text}`);
  };

  const show = (s: WorkflowStatus) => {
    s.steps.forEach((step, i) => {
      const before = printed.get(i);
      if (before === step.state) return;
      if (step.state === 'running') {
        // Plain output announces a step when it starts; the terminal shows it on the live line.
        if (!tty && before === undefined) line(`${renderStep(step)}`);
      } else {
        line(renderStep(step));
        opts.onStep?.(step);
      }
      printed.set(i, step.state);
    });
    if (s.phase !== lastPhase) {
      lastPhase = s.phase;
      if (
        s.pauseReason ||
        s.phase === 'awaiting-approval' ||
        s.phase === 'paused' ||
        s.phase === 'waiting-grace'
      ) {
        line(`   phase ${s.phase}${s.pauseReason ? `: ${s.pauseReason}` : ''}`);
        for (const n of nextActions(handle.workflowId, s)) line(`     ${n}`);
      }
    }
    const running = [...s.steps].reverse().find((x) => x.state === 'running');
    if (running) {
      setLive(
        `${SPINNER[tick++ % SPINNER.length]} ${running.name} (${ms(Date.now() - Date.parse(running.startedAt))})`,
      );
    } else {
      setLive(`${SPINNER[tick++ % SPINNER.length]} ${s.phase}`);
    }
  };

  let settled: Followed | undefined;
  const outcome = handle.result().then(
    (result: WorkflowResult) => (settled = { result }),
    (error: unknown) => (settled = { error }),
  );
  const poll = async () => {
    try {
      status = await handle.query(statusQuery);
      show(status);
      await opts.onStatus?.(status);
    } catch {
      // Not answerable yet (first task not processed) or the worker is restarting: keep going.
    }
  };
  while (!settled) {
    await poll();
    await Promise.race([outcome, new Promise((r) => setTimeout(r, pollMs))]);
  }
  await poll();
  if (tty && live) {
    write('\r\x1b[K');
    live = '';
  }
  return { ...(settled as Followed), status };
}
