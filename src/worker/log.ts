// Structured logs: one JSON object per line on stderr, the shape log collectors (Loki,
// Cloud Logging, CloudWatch) index without parsing rules. Nothing secret is ever passed
// in; as a second line of defence, keys whose names suggest a secret are redacted.
import { DefaultLogger, type LogEntry, type LogLevel as SdkLogLevel, type Logger } from '@temporalio/worker';
import { type LogLevel } from './config';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRETISH = /secret|password|token|apikey|api_key|api-key|authorization|privatekey|codeckey/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[…]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        SECRETISH.test(k) && typeof v === 'string' && v !== 'set' && v !== 'unset'
          ? '[redacted]'
          : redact(v, depth + 1),
      ]),
    );
  }
  return value;
}

export interface JsonLogger {
  debug(msg: string, meta?: Record<string, unknown>): void;
  info(msg: string, meta?: Record<string, unknown>): void;
  warn(msg: string, meta?: Record<string, unknown>): void;
  error(msg: string, meta?: Record<string, unknown>): void;
}

export function jsonLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l),
  component = 'rotator-worker',
): JsonLogger {
  const emit = (lvl: LogLevel, msg: string, meta?: Record<string, unknown>) => {
    if (ORDER[lvl] < ORDER[level]) return;
    const entry = {
      ts: new Date().toISOString(),
      level: lvl,
      component,
      msg,
      ...(redact(meta ?? {}) as object),
    };
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (m, meta) => emit('debug', m, meta),
    info: (m, meta) => emit('info', m, meta),
    warn: (m, meta) => emit('warn', m, meta),
    error: (m, meta) => emit('error', m, meta),
  };
}

const SDK_LEVEL: Record<LogLevel, SdkLogLevel> = {
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
};
const FROM_SDK: Record<SdkLogLevel, LogLevel> = {
  TRACE: 'debug',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** The Temporal SDK's own logger (worker state, workflow and activity logs) writing the same JSON lines. */
export function sdkLogger(level: LogLevel, write?: (line: string) => void): Logger {
  const out = jsonLogger('debug', write, 'temporal-sdk');
  return new DefaultLogger(SDK_LEVEL[level], (entry: LogEntry) => {
    out[FROM_SDK[entry.level]](entry.message, entry.meta);
  });
}
