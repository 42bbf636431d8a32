/**
 * The store's erasure layout, as its admin API reports it in server info (`backend` and
 * `servers` of the InfoMessage: RustFS crates/madmin/src/info_commands.rs ErasureBackend, the
 * same field names on alpha.85, beta.7 and rc.3, and on MinIO; rc.3 wraps the message in
 * `info`). Captured from real 4-node clusters: test/fixtures/rustfs/<tag>/rustfs/info-4-nodes*.json.
 */
export interface ErasureLayout {
  /** Servers (nodes) the store reports. */
  servers: number;
  /** Erasure sets per pool, summed over pools. */
  sets: number;
  /** Drives of each set (the smallest when pools differ). */
  drivesPerSet: number;
  /** Parity drives of the standard storage class. */
  parity: number;
  /** Drives reported offline or unknown now (rc.3 reports a stopped peer online for a while). */
  drivesDown: number;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const nums = (v: unknown): number[] =>
  Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : [];

/** The layout from a server-info reply, or undefined when it reports no erasure backend. */
export function erasureLayout(raw: unknown): ErasureLayout | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const top = raw as Record<string, unknown>;
  const msg = (!('servers' in top) && top.info && typeof top.info === 'object' ? top.info : top) as Record<
    string,
    unknown
  >;
  const backend = msg.backend as Record<string, unknown> | undefined;
  if (!backend || backend.backendType !== 'Erasure') return undefined;
  const perSet = nums(backend.totalDrivesPerSet);
  const parity = num(backend.standardSCParity);
  if (perSet.length === 0 || parity === undefined) return undefined;
  return {
    servers: Array.isArray(msg.servers) ? msg.servers.length : 0,
    sets: nums(backend.totalSets).reduce((a, b) => a + b, 0),
    drivesPerSet: Math.min(...perSet),
    parity,
    drivesDown: (num(backend.offlineDisks) ?? 0) + (num(backend.unknownDisks) ?? 0),
  };
}

/**
 * Writes need `data` drives of a set, one more when data and parity are equal (so that two
 * halves cannot both win): the rule of MinIO's and RustFS's erasure sets.
 */
export function writeQuorum(layout: Pick<ErasureLayout, 'drivesPerSet' | 'parity'>): number {
  const data = layout.drivesPerSet - layout.parity;
  return data === layout.parity ? data + 1 : data;
}

/**
 * How many whole nodes may be down at once while every set keeps its write quorum (reads need
 * less). A node's drives are assumed spread evenly over the nodes, all of them in one set in
 * the worst case; drives already down count against it.
 */
export function nodesTolerated(layout: ErasureLayout): number {
  if (layout.servers < 2) return 0;
  const drives = layout.sets * layout.drivesPerSet;
  const perNode = Math.min(layout.drivesPerSet, Math.ceil(drives / layout.servers));
  const spare = layout.drivesPerSet - writeQuorum(layout) - layout.drivesDown;
  return spare <= 0 ? 0 : Math.floor(spare / perNode);
}

/**
 * Why a node's health probe says the cluster is not healthy, as RustFS words it (rc.3's
 * `degradedReasons`: rustfs/src/server/readiness.rs; e.g. `cluster_health_timeout` when the node
 * could not even gather its peers' state within the probe's 2 s, not a quorum it computed), or
 * [] for a body that names none (MinIO answers with headers only). Captured:
 * test/fixtures/rustfs/1.0.0-rc.3/rustfs/health-cluster-peer-hung.json.
 */
export function degradedReasons(body: string): string[] {
  try {
    const reasons = (JSON.parse(body) as { degradedReasons?: unknown }).degradedReasons;
    return Array.isArray(reasons) ? reasons.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}
