// Cron validation before a schedule is created: Temporal accepts a malformed expression
// only to fail later or never fire, so the CLI checks every field and says which is wrong.
const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day-of-week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
] as const;

export const CRON_MACROS = [
  '@yearly',
  '@annually',
  '@monthly',
  '@weekly',
  '@daily',
  '@midnight',
  '@hourly',
] as const;
export const CRON_HINT =
  'expected 5 fields "minute hour day-of-month month day-of-week" like "0 3 1 * *" (03:00 on the 1st of every month), or one of ' +
  CRON_MACROS.join(', ');

/** undefined when valid; otherwise what is wrong, naming the field. */
export function cronProblem(expr: string): string | undefined {
  const text = expr.trim();
  if (!text) return `empty cron expression; ${CRON_HINT}`;
  if (text.startsWith('@')) {
    return (CRON_MACROS as readonly string[]).includes(text)
      ? undefined
      : `unknown macro "${text}"; ${CRON_HINT}`;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5)
    return `"${text}" has ${parts.length} field${parts.length === 1 ? '' : 's'}; ${CRON_HINT}`;
  for (let i = 0; i < 5; i++) {
    const f = FIELDS[i]!;
    const value = (n: string): number | undefined => {
      if (/^\d+$/.test(n)) return Number(n);
      const names = 'names' in f ? (f.names as readonly string[]) : [];
      const idx = names.indexOf(n.toUpperCase());
      return idx >= 0 ? idx + f.min : undefined;
    };
    for (const item of parts[i]!.split(',')) {
      const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(item);
      if (!m) return `${f.name} "${item}" is not a number, range, list or step; ${CRON_HINT}`;
      if (m[2] !== undefined && Number(m[2]) === 0) return `${f.name} step "/0" is not allowed`;
      if (m[1] === '*') continue;
      for (const bound of m[1]!.split('-')) {
        const v = value(bound);
        if (v === undefined) return `${f.name} "${bound}" is not a number`;
        if (v < f.min || v > f.max) return `${f.name} ${v} is out of range ${f.min}-${f.max}`;
      }
      const [lo, hi] = m[1]!.split('-').map((b) => value(b)!);
      if (hi !== undefined && lo! > hi) return `${f.name} range ${m[1]} is backwards`;
    }
  }
  return undefined;
}
