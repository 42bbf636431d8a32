// Pure helpers (no Node APIs, no zod at runtime): workflows receive the parsed inventory
// as input and look zones up with these, so this file must stay importable from
// the deterministic workflow bundle.
import type { Inventory, Zone } from './schema';

/** Thrown when a zone name given by a person (CLI flag, workflow input) is not in the inventory. */
export class UnknownZoneError extends Error {
  override readonly name = 'UnknownZoneError';
  constructor(
    readonly zone: string,
    readonly known: readonly string[],
  ) {
    const hint = closest(zone, known);
    super(
      `Unknown zone "${zone}". ` +
        (known.length ? `Known zones: ${known.join(', ')}.` : 'The inventory defines no zones.') +
        (hint ? ` Did you mean "${hint}"?` : ''),
    );
  }
}

export function findZone(inv: Pick<Inventory, 'zones'>, name: string): Zone {
  const zone = inv.zones.find((z) => z.name === name);
  if (!zone) {
    throw new UnknownZoneError(
      name,
      inv.zones.map((z) => z.name),
    );
  }
  return zone;
}

/**
 * The candidate a typo most likely meant, or undefined when nothing is close enough to be a
 * useful suggestion (a wrong suggestion is worse than none at 3 a.m.).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const d = candidate.toLowerCase() === lower ? 0 : editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const budget = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return bestDistance <= budget ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The inventory as workflows see it (recorded in their histories): no notification sinks. */
export type InventorySnapshot = Omit<Inventory, 'notifications'>;

/** Drops what must not reach a workflow history: sink URLs may be credentials. */
export function historySafe(inv: Inventory): InventorySnapshot {
  const { notifications: _sinks, ...rest } = inv;
  return rest;
}
