import { findZone, smokePlan, type SmokeCell } from '../inventory';
import { isAdminError, type S3Ops } from '../rustfs';
import { readRoot, readZoneCredential } from './credentials';
import { type ActivityDeps } from './deps';
import { nonRetryable } from './failures';

export interface SmokeReport {
  zone: string;
  source: 'current' | 'pending';
  passed: number;
  cells: number;
  /** One line per cell that did not match: bucket, operation, expected, got. */
  mismatches: string[];
}

async function runCell(s3: S3Ops, cell: SmokeCell, body: string): Promise<'allow' | 'deny'> {
  try {
    switch (cell.operation) {
      case 'put':
        await s3.putObject(cell.bucket, cell.key!, body);
        break;
      case 'get':
        await s3.getObject(cell.bucket, cell.key!);
        break;
      case 'delete':
        await s3.deleteObject(cell.bucket, cell.key!);
        break;
      case 'list':
        await s3.listObjects(cell.bucket);
        break;
    }
    return 'allow';
  } catch (err) {
    // Only AccessDenied says "the policy forbids it"; anything else says nothing about
    // the policy and must not be counted as a match.
    if (isAdminError(err, 'AccessDenied')) return 'deny';
    throw err;
  }
}

/**
 * A cell that failed with neither allow nor AccessDenied: true when the whole smoke should be
 * retried rather than the cell counted as a mismatch. Just-created keys can take a moment to
 * reach every node, and a store that is restarting or overloaded says nothing about the policy.
 */
export function retryAfterCellError(err: unknown): boolean {
  return isAdminError(err, 'AuthenticationFailed') || (isAdminError(err) && err.retryable);
}

export const SMOKE_MISMATCH = 'SmokeMismatch';

/** The failure of a smoke with cells that did not match; smokeMismatchOf reads it back (metrics). */
export function smokeMismatchMessage(
  zone: string,
  source: string,
  mismatches: string[],
  cells: number,
): string {
  return `smoke of zone ${zone} (${source} credential) failed ${mismatches.length} of ${cells} cells: ${mismatches.join('; ')}`;
}

const MISMATCH_RE = /^smoke of zone (\S+) \([a-z]+ credential\) failed (\d+) of \d+ cells/;

/** The zone and the number of failed cells of a smokeMismatchMessage; undefined for any other message. */
export function smokeMismatchOf(message: string): { zone: string; failed: number } | undefined {
  const m = MISMATCH_RE.exec(message);
  return m ? { zone: m[1]!, failed: Number(m[2]) } : undefined;
}

/**
 * Policy conformance (docs/design.md "Smoke: policy conformance"): every cell of the zone's expected matrix, run with the
 * zone credential under test. Passing means every allowed operation succeeded and every
 * other one was AccessDenied — "it authenticated" is not enough.
 */
export function createSmokeActivities(deps: ActivityDeps) {
  const { kube, inventory } = deps;
  return {
    async smokeZone(zoneName: string, source: 'current' | 'pending' = 'current'): Promise<SmokeReport> {
      const zone = findZone(inventory, zoneName);
      const plan = smokePlan(zone, inventory.smoke);
      const root = deps.s3(await readRoot(kube, inventory));
      const cred = await readZoneCredential(kube, zone, source);
      const s3 = deps.s3(cred);
      const mismatches: string[] = [];
      const body = `rustfs-rotator smoke ${zone.name} ${new Date().toISOString()}`;
      try {
        for (const c of plan.rootCanaries) await root.putObject(c.bucket, c.key, body);
        for (const cell of plan.cells) {
          let got: 'allow' | 'deny';
          try {
            got = await runCell(s3, cell, body);
          } catch (err) {
            if (retryAfterCellError(err)) throw err;
            mismatches.push(
              `${cell.operation} ${cell.bucket}: expected ${cell.expect}, got error ${(err as Error).message}`,
            );
            continue;
          }
          if (got !== cell.expect) {
            mismatches.push(`${cell.operation} ${cell.bucket}: expected ${cell.expect}, got ${got}`);
            // A put that should have been denied left an object behind: remove it.
            if (got === 'allow' && cell.operation === 'put')
              await root.deleteObject(cell.bucket, cell.key!).catch(() => undefined);
          }
        }
      } finally {
        s3.close();
        root.close();
      }
      const report = {
        zone: zone.name,
        source,
        passed: plan.cells.length - mismatches.length,
        cells: plan.cells.length,
        mismatches,
      };
      if (mismatches.length) {
        throw nonRetryable(
          smokeMismatchMessage(zone.name, source, mismatches, plan.cells.length),
          SMOKE_MISMATCH,
        );
      }
      return report;
    },
  };
}

export type SmokeActivities = ReturnType<typeof createSmokeActivities>;
