// Posting to a webhook sink. The URL is resolved here, at send time, from the inventory or
// the worker's environment, and never leaves this file: errors name the sink and the HTTP
// status or network error code only (a Slack webhook URL is a credential).
import { isWebhookUrl, type NotificationSink } from '../inventory/schema';

export class SinkError extends Error {
  override readonly name = 'SinkError';
  constructor(
    readonly sink: string,
    detail: string,
    /** A missing or malformed URL is not healed by retrying. */
    readonly permanent: boolean,
  ) {
    super(`notification sink ${sink}: ${detail}`);
  }
}

/** The sink's URL, or a SinkError naming what is missing (never the value). */
export function sinkUrl(sink: NotificationSink, env: Record<string, string | undefined>): string {
  if (sink.target.url !== undefined) return sink.target.url;
  const name = sink.target.env!;
  const value = env[name];
  if (!value) throw new SinkError(sink.name, `environment variable ${name} is not set`, true);
  if (!isWebhookUrl(value))
    throw new SinkError(sink.name, `environment variable ${name} is not an http(s) URL`, true);
  return value;
}

const SEND_TIMEOUT_MS = 10_000;

export async function postJson(sink: NotificationSink, url: string, body: object): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
      redirect: 'error',
    });
  } catch (err) {
    // fetch's own messages can quote the URL; keep only the error code.
    const cause = (err as { cause?: { code?: string } }).cause;
    const code = cause?.code ?? (err as Error).name;
    throw new SinkError(sink.name, `request failed (${code})`, false);
  }
  await res.body?.cancel().catch(() => undefined);
  if (!res.ok)
    throw new SinkError(
      sink.name,
      `HTTP ${res.status}`,
      res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408,
    );
}
