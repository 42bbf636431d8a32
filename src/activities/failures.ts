import { ApplicationFailure } from '@temporalio/common';
import { KubeError } from '../kube';
import { PrefectError } from '../prefect/client';
import { TemplateConflict } from '../prefect/template';
import { AdminError } from '../rustfs';

/**
 * Turns a typed library error into the Temporal failure that decides retries: a 403, a
 * bad request or a policy mismatch will not heal by retrying, so they end the activity
 * at once with a type on-call can read in history; the rest is retried with backoff.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof KubeError) {
    return err.nonRetryable
      ? ApplicationFailure.nonRetryable(err.message, err.name)
      : ApplicationFailure.retryable(err.message, err.name);
  }
  // Someone else's change to a work pool template is for a person to resolve.
  if (err instanceof TemplateConflict)
    return ApplicationFailure.nonRetryable(err.message, 'WorkPoolConflict');
  if (err instanceof PrefectError) {
    return err.retryable
      ? ApplicationFailure.retryable(err.message, 'PrefectApi')
      : ApplicationFailure.nonRetryable(err.message, 'PrefectApi');
  }
  if (err instanceof AdminError) {
    const type = `Store${err.code}`;
    return err.retryable
      ? ApplicationFailure.retryable(err.message, type)
      : ApplicationFailure.nonRetryable(err.message, type);
  }
  return err;
}

type AsyncFn = (...args: never[]) => Promise<unknown>;

/** Applies toActivityFailure to every activity of a factory's result. */
export function withTypedFailures<T extends Record<string, AsyncFn>>(activities: T): T {
  const wrapped: Record<string, AsyncFn> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw toActivityFailure(err);
      }
    };
  }
  return wrapped as T;
}

export const nonRetryable = (message: string, type: string) => ApplicationFailure.nonRetryable(message, type);
