import { Context } from '@temporalio/activity';
import { findZone, smokePlan, type SmokeCell } from '../inventory';
import { isAdminError, type Credentials, type S3Ops } from '../rustfs';
import { readRoot, readZoneCredential } from './credentials';
import { type ActivityDeps } from './deps';
import { nonRetryable } from './failures';
import { servingNodes } from './store-nodes';

export interface SmokeReport {
  zone: string;
  source: 'current' | 'pending';
  passed: number;
  cells: number;
  /** One line per cell that did not match: bucket, operation, expected, got (and the node, when asked per node). */
  mismatches: string[];
  /** The store pods asked directly (store.nodeEndpoints), and those skipped for not serving. */
  nodes?: string[];
  skipped?: string[];
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

/**
 * The failure of a smoke with cells that did not match; smokeMismatchOf reads it back (metrics).
 * `failed` counts cells, whatever number of nodes each failed on (default: one line per cell).
 */
export function smokeMismatchMessage(
  zone: string,
  source: string,
  mismatches: string[],
  cells: number,
  failed = mismatches.length,
): string {
  return `smoke of zone ${zone} (${source} credential) failed ${failed} of ${cells} cells: ${mismatches.join('; ')}`;
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
/**
 * How long a node may take to apply a zone's IAM after the write. RustFS tells its peers of an
 * IAM write without waiting for them (alpha.85 … rc.3, crates/iam/src/sys.rs notify_for_user:
 * fire-and-forget) and each node reloads IAM every 120 s (crates/iam/src/manager.rs): on a
 * multi-node store the node behind the Service may deny a zone moments after its policy was
 * attached on another (seen on alpha.85's 4 nodes: three nodes denied a zone for over 90 s after
 * BootstrapCluster attached its policy, then allowed it). Inside the smoke's 4-minute call.
 */
const NODE_SETTLE_MS = 150_000;
const NODE_POLL_MS = 2_000;

/** A cell that did not match, and the line that says so. */
interface Mismatch {
  cell: string;
  text: string;
}

/** Where a smoke runs: every node of a multi-node store by its own endpoint, else the Service. */
interface SmokeTarget {
  /** The store pod, or undefined for the store's endpoint. */
  pod?: string;
  endpoint?: string;
}

/** Cancellation-aware outside tests that call the activity without an activity context. */
function pause(ms: number): Promise<void> {
  try {
    Context.current().heartbeat();
    return Context.current().sleep(ms);
  } catch {
    return new Promise((r) => setTimeout(r, ms));
  }
}

/**
 * Policy conformance (docs/design.md "Smoke: policy conformance"): every cell of the zone's expected matrix, run with the
 * zone credential under test. Passing means every allowed operation succeeded and every
 * other one was AccessDenied — "it authenticated" is not enough. On a store whose inventory
 * names each pod's endpoint (store.nodeEndpoints) every serving node is asked directly, and a
 * node that does not match yet is asked again for NODE_SETTLE_MS: a consumer switched to a key
 * must be served by whichever node the Service picks.
 */
export function createSmokeActivities(deps: ActivityDeps) {
  const { kube, inventory } = deps;

  const targets = async (): Promise<{ serving: SmokeTarget[]; skipped: string[] }> => {
    const { serving, down } = await servingNodes(deps);
    // A single-node store, or every node down (which says nothing about the policy): the
    // Service's answer, retried as before.
    if (!serving.length) return { serving: [{}], skipped: [] };
    return { serving, skipped: down };
  };

  /** One pass of the plan against one target: the cells that did not match. */
  const runPlan = async (
    cred: Credentials,
    root: S3Ops,
    target: SmokeTarget,
    cells: SmokeCell[],
    body: string,
  ): Promise<Mismatch[]> => {
    const s3 = deps.s3(cred, target.endpoint);
    const mismatches: Mismatch[] = [];
    const at = target.pod ? `${target.pod}: ` : '';
    try {
      for (const cell of cells) {
        const name = `${cell.operation} ${cell.bucket}`;
        let got: 'allow' | 'deny';
        try {
          got = await runCell(s3, cell, body);
        } catch (err) {
          if (retryAfterCellError(err)) throw err;
          mismatches.push({
            cell: name,
            text: `${at}${name}: expected ${cell.expect}, got error ${(err as Error).message}`,
          });
          continue;
        }
        if (got !== cell.expect) {
          mismatches.push({ cell: name, text: `${at}${name}: expected ${cell.expect}, got ${got}` });
          // A put that should have been denied left an object behind: remove it.
          if (got === 'allow' && cell.operation === 'put')
            await root.deleteObject(cell.bucket, cell.key!).catch(() => undefined);
        }
      }
    } finally {
      s3.close();
    }
    return mismatches;
  };

  /** The plan on one node until it matches, or until `deadline` (NODE_SETTLE_MS from the smoke's start). */
  const settledOn = async (
    cred: Credentials,
    root: S3Ops,
    target: SmokeTarget,
    cells: SmokeCell[],
    body: string,
    deadline: number,
  ): Promise<Mismatch[]> => {
    for (;;) {
      try {
        const mismatches = await runPlan(cred, root, target, cells, body);
        if (!mismatches.length || Date.now() >= deadline) return mismatches;
      } catch (err) {
        // The key not on this node yet, or the node busy: asked again until the deadline.
        if (Date.now() >= deadline) throw err;
      }
      await pause(NODE_POLL_MS);
    }
  };

  return {
    async smokeZone(zoneName: string, source: 'current' | 'pending' = 'current'): Promise<SmokeReport> {
      const zone = findZone(inventory, zoneName);
      const plan = smokePlan(zone, inventory.smoke);
      const cred = await readZoneCredential(kube, zone, source);
      const body = `rustfs-rotator smoke ${zone.name} ${new Date().toISOString()}`;
      const root = deps.s3(await readRoot(kube, inventory));
      let mismatches: Mismatch[];
      let nodes: Pick<SmokeReport, 'nodes' | 'skipped'> = {};
      try {
        for (const c of plan.rootCanaries) await root.putObject(c.bucket, c.key, body);
        const { serving: on, skipped } = await targets();
        const perNode = on.length > 1 || on[0]?.pod !== undefined;
        if (perNode) nodes = { nodes: on.map((t) => t.pod!), skipped };
        // One node after another: the cells of every node write and read the same objects, and
        // four nodes doing so at once contend for the objects' locks (beta.7: "Lock acquisition
        // timeout … after 5s", a 500 on every node). One deadline for all: a node's wait for
        // IAM overlaps the others'.
        const deadline = Date.now() + NODE_SETTLE_MS;
        mismatches = [];
        for (const t of on)
          mismatches.push(
            ...(perNode
              ? await settledOn(cred, root, t, plan.cells, body, deadline)
              : await runPlan(cred, root, t, plan.cells, body)),
          );
      } finally {
        root.close();
      }
      const report: SmokeReport = {
        zone: zone.name,
        source,
        passed: plan.cells.length - new Set(mismatches.map((m) => m.cell)).size,
        cells: plan.cells.length,
        mismatches: mismatches.map((m) => m.text),
        ...nodes,
      };
      if (mismatches.length) {
        throw nonRetryable(
          smokeMismatchMessage(
            zone.name,
            source,
            report.mismatches,
            plan.cells.length,
            plan.cells.length - report.passed,
          ),
          SMOKE_MISMATCH,
        );
      }
      return report;
    },
  };
}

export type SmokeActivities = ReturnType<typeof createSmokeActivities>;
