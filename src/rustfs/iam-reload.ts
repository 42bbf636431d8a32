/**
 * RustFS releases before 1.0.0-beta.6 reload their whole IAM cache from disk every 120 s
 * (iam manager.rs, the `iam load ticker`) with nothing ordering the reload against writes:
 * the reload lists and reads every IAM file, then replaces the cache. A user, secret or
 * service account written between the two (~3 s on a small store, measured on alpha.85) is
 * undone in memory — a deleted account authenticates again, a new one is unknown — until the
 * next reload, up to 120 s later. The disk keeps the write. Fixed by "fix(iam): serialize IAM
 * cache writes" (c257043b6), first released in 1.0.0-beta.6.
 *
 * A race leaves no trace an admin request can probe, so the reported version is the only
 * signal. Builds without git metadata report `@0.0.5` (alpha.85 does), which orders before
 * every 1.0.0 release and so counts as affected: the safe side.
 */
const FIRST_ORDERED_RELEASE = '1.0.0-beta.6';

/**
 * How long after a write its undoing can still land: one reload, with room for a slower
 * disk than the measured 3 s.
 */
export const IAM_RELOAD_WINDOW_MS = 4000;

type Release = [major: number, minor: number, patch: number, stage: number, stageNumber: number];

/** Pre-release stages in release order; a final release sorts after all of them. */
const STAGES = ['alpha', 'beta', 'rc'] as const;

function parseRelease(version: string): Release | undefined {
  const m = /^@?(\d+)\.(\d+)\.(\d+)(?:-(alpha|beta|rc)\.(\d+))?$/.exec(version.trim());
  if (!m) return undefined;
  const stage = m[4] ? STAGES.indexOf(m[4] as (typeof STAGES)[number]) : STAGES.length;
  return [Number(m[1]), Number(m[2]), Number(m[3]), stage, Number(m[5] ?? 0)];
}

function before(a: Release, b: Release): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

/**
 * Whether a RustFS server reporting `version` may undo an IAM write in its periodic reload.
 * An unreported or unparsable version counts as affected.
 */
export function iamWritesMayBeUndone(version: string | undefined): boolean {
  const release = version === undefined ? undefined : parseRelease(version);
  return release === undefined || before(release, parseRelease(FIRST_ORDERED_RELEASE)!);
}

/**
 * Orders release tags or reported versions (`1.0.0-rc.3`, `@1.0.0-beta.7`): negative when `a`
 * is the older. One that is not a release sorts before every release.
 */
export function compareReleases(a: string, b: string): number {
  const [ra, rb] = [parseRelease(a), parseRelease(b)];
  if (!ra || !rb) return (ra ? 1 : 0) - (rb ? 1 : 0);
  return before(ra, rb) ? -1 : before(rb, ra) ? 1 : 0;
}
