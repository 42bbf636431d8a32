// Durations are written the way on-call already writes them for kubectl and Go tools
// ("90s", "2m", "1h30m"); a bare number is refused because "30" could mean seconds or
// minutes and a wrong guess here decides when a credential is revoked.
// Pure (no Node APIs) so workflows can format durations for status and plans.

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

export const DURATION_HINT = 'a duration like "90s", "10m", "1h30m" or "1d" (units ms, s, m, h, d)';

/** Milliseconds for a duration string, or undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_RE.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(PART_RE)) {
    total += Number(match[1]) * UNIT_MS[match[2] as Unit];
  }
  return Math.round(total);
}

/** A measured time as output shows it: "-" when unknown, "850ms", "12.3s", else formatDuration. */
export function formatElapsed(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '-';
  if (n < 1000) return `${Math.round(n)}ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(1)}s`;
  return formatDuration(Math.round(n / 1000) * 1000);
}

/** Compact human form ("1h30m", "45s", "250ms") for status output and plans. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit];
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
