// What a failure says, as a workflow tells it to on-call (status, steps, Events).
import { ApplicationFailure } from '@temporalio/workflow';
import { FAILURE } from './names';

export function errorMessage(err: unknown): string {
  if (err instanceof ApplicationFailure || err instanceof Error) {
    // An ActivityFailure wraps the real cause; on-call wants the cause.
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : err.message;
  }
  return String(err);
}

export function errorType(err: unknown): string | undefined {
  const cause = (err as { cause?: unknown }).cause ?? err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

export const invalidInput = (message: string) =>
  ApplicationFailure.nonRetryable(message, FAILURE.invalidInput);
