// The inventory's `retries`: how long each kind of step keeps retrying through an outage
// before the run gives up on it, and how long a step fails before a person is told. Each value
// has a floor (a budget too short to outlast a restart of the apiserver or the store would
// bring back the failures this exists to prevent) and a ceiling (a run must end). Unset
// values take the run's era defaults (src/workflows/run-constants.ts, docs/configuring.md).
import { z } from 'zod';
import { DURATION_HINT, parseDuration } from './duration';

export const RETRY_BOUNDS = {
  quick: {
    min: '1m',
    max: '24h',
    what: 'how long a quick apiserver or store step retries before the switch',
  },
  smoke: { min: '1m', max: '24h', what: 'how long a smoke retries before the switch' },
  wait: { min: '1m', max: '24h', what: 'how long a rollout or store wait is tried again after an outage' },
  pastSwitch: {
    min: '10m',
    max: '7d',
    what: 'how long a step after the switch retries while the previous key stays valid',
  },
  compensation: { min: '10m', max: '7d', what: 'how long an undo retries before it needs a person' },
  escalateAfter: { min: '1m', max: '24h', what: 'how long a step fails before a person is told' },
} as const;
export type RetrySetting = keyof typeof RETRY_BOUNDS;

const bounded = (name: RetrySetting) => {
  const b = RETRY_BOUNDS[name];
  const hint = `at least ${b.min} and at most ${b.max} (${b.what})`;
  return z
    .string({ error: `expected ${DURATION_HINT}, ${hint}` })
    .refine((text) => parseDuration(text) !== undefined, { error: `expected ${DURATION_HINT}` })
    .refine(
      (text) => {
        const ms = parseDuration(text);
        return ms === undefined || (ms >= parseDuration(b.min)! && ms <= parseDuration(b.max)!);
      },
      { error: `expected ${hint}` },
    );
};

export const retriesSchema = z
  .strictObject(
    Object.fromEntries(
      (Object.keys(RETRY_BOUNDS) as RetrySetting[]).map((k) => [k, bounded(k).optional()]),
    ) as Record<RetrySetting, z.ZodOptional<ReturnType<typeof bounded>>>,
    {
      error: `expected a retries mapping with any of ${Object.keys(RETRY_BOUNDS).join(', ')} (durations)`,
    },
  )
  .transform((r) => {
    const out: Partial<Record<RetrySetting, number>> = {};
    for (const k of Object.keys(RETRY_BOUNDS) as RetrySetting[]) {
      const text = r[k];
      if (text !== undefined) out[k] = parseDuration(text)!;
    }
    return out;
  });
