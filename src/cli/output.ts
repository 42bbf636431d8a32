/** Every command prints either a human rendering or, with --json, one JSON document. */
export interface OutputOptions {
  json?: boolean;
}

export function emit<T>(opts: OutputOptions, value: T, human: (value: T) => string): void {
  process.stdout.write(opts.json ? `${JSON.stringify(value, null, 2)}\n` : `${human(value)}\n`);
}

/** An error the user can act on: printed without a stack, with its own exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/** The single error handler: a message, never a stack or a secret, and an exit code. */
export function reportError(err: unknown, json: boolean): void {
  const message = err instanceof Error ? err.message : String(err);
  const exitCode = err instanceof CliError ? err.exitCode : 1;
  if (json) process.stdout.write(`${JSON.stringify({ error: message, exitCode })}\n`);
  else process.stderr.write(`rotator: ${message}\n`);
  process.exitCode = exitCode;
}
