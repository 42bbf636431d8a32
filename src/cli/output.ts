import { formatElapsed } from '../inventory/duration';

/** Every command prints either a human rendering or, with --json, one JSON document. */
export interface OutputOptions {
  json?: boolean;
}

export function emit<T>(opts: OutputOptions, value: T, human: (value: T) => string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : `${human(value)}\n`);
}

/**
 * Exit codes, so scripts and on-call runbooks can branch on the outcome:
 * 0 success; 1 unexpected error; 2 bad input (unknown zone, bad cron, unknown workflow,
 * bad option) — nothing was started; 3 the workflow failed, was rolled back or refused an
 * update; 4 no such workflow or schedule; 5 already running (the ID is a lock);
 * 6 audit found drift or a violation; 7 Temporal (or the cluster) is unreachable.
 */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  workflowFailed: 3,
  notFound: 4,
  alreadyRunning: 5,
  findings: 6,
  unavailable: 7,
} as const;

/** An error the user can act on: printed without a stack, with its own exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}

/** The single error handler: a message, never a stack or a secret, and an exit code. */
export function reportError(err: unknown, json: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  const exitCode = err instanceof CliError ? err.exitCode : EXIT.error;
  if (json) process.stdout.write(`${JSON.stringify({ error: message, exitCode })}\n`);
  else process.stderr.write(`rotator: ${message}\n`);
  process.exitCode = exitCode;
}

/** "12:03:04" (UTC, like the Web UI default) for timelines. */
export function clock(d: Date | string | undefined): string {
  if (!d) return '--:--:--';
  const date = typeof d === 'string' ? new Date(d) : d;
  return date.toISOString().slice(11, 19);
}

export const ms = formatElapsed;

/** Left-aligned columns for tables in human output. */
export function table(rows: string[][], indent = '  '): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map(
      (r) =>
        indent +
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
    )
    .join('\n');
}
