// What a root rotation restarts, and how, for the store's topology (issue 25 point 2): pure, so
// the plan and the refusal are decided in the workflow from what preflight read.
import type { StoreTopology } from '../activities/store-topology';
import { RPC_SECRET_ENV } from './names';

/** How the store's pods are restarted onto a new root. */
export type RootStrategy = 'rolling' | 'all-at-once';

export interface RootRestartPlan {
  strategy: RootStrategy;
  /** The plan's expected downtime for this strategy on this topology. */
  expectedDowntime: string;
  /** Set when the strategy would split or stall the cluster: nothing may change. */
  refused?: { reason: string; fix: string };
}

/** A StatefulSet's pods are named `<name>-<ordinal>`. */
export const storePodNames = (workload: string, replicas: number): string[] =>
  Array.from({ length: replicas }, (_, i) => `${workload}-${i}`);

/** The rolling strategy's order: the highest ordinal first, as a StatefulSet's own rollout. */
export const rollOrder = (workload: string, replicas: number): string[] =>
  storePodNames(workload, replicas).reverse();

/** The topology of a run recorded before preflight read it: one store pod. */
export const SINGLE_POD: StoreTopology = {
  replicas: 1,
  rpcSecret: { pinned: false, reason: 'not read (a run recorded before preflight read the topology)' },
};

const ALL_AT_ONCE_FIX = 'use the all-at-once strategy (every pod restarted together: one store-wide window)';

/** What the rolling strategy's checks need beyond the topology. */
export interface RollingFacts {
  /** Pods of the workload whose own endpoint the inventory names (store.nodeEndpoints). */
  podsWithEndpoints: number;
  /** The StatefulSet's minReadySeconds: how long each check must hold before the next pod. */
  settleSeconds: number;
}

/**
 * The root restart for this topology: `rolling` (one pod at a time) only where it cannot split
 * the cluster; `all-at-once` always (every node comes back on the new root together).
 * `rolling` undefined: the era before the rolling strategy existed, which refused it whatever
 * the topology (its restart was the workload's rollout restart, checking no node before the
 * next).
 */
export function planRootRestart(opts: {
  kind: 'minio' | 'rustfs';
  workload: string;
  strategy: RootStrategy;
  topology: StoreTopology;
  /** False on a store that seals IAM with the root (RustFS alpha.85). */
  iamSurvivesRootChange: boolean;
  restartTimeout: string;
  rolling?: RollingFacts;
}): RootRestartPlan {
  const { kind, workload, strategy, topology, iamSurvivesRootChange, restartTimeout, rolling } = opts;
  const { replicas, rpcSecret, erasure } = topology;
  if (strategy === 'all-at-once') {
    // Runs recorded before the strategies (no `rolling` facts) restarted as they did.
    if (rolling && replicas > 1 && !iamSurvivesRootChange)
      return {
        strategy,
        expectedDowntime: 'none: refused before anything changes',
        refused: {
          reason: `this store seals IAM with the root secret and loses it on a root change: on ${replicas} nodes the zones re-created afterwards reach the other nodes only at their IAM reload, which fails while anything is still sealed with the old root (seen on RustFS alpha.85's 4 nodes: a node denying a re-created zone for more than 150 s, the run failing after the root had changed)`,
          fix: 'upgrade the store to a release that keeps IAM across a root change (RustFS 1.0.0-beta.7 and later do), then rotate',
        },
      };
    // Absent from runs recorded before preflight read it: those restarted as they did.
    if (rolling && replicas > 1 && topology.podManagementPolicy === 'OrderedReady')
      return {
        strategy,
        expectedDowntime: 'none: refused before anything changes',
        refused: {
          reason: `${workload} has podManagementPolicy OrderedReady: with every pod deleted, the StatefulSet recreates them one at a time, each only once the previous is Ready, and a node is not Ready without its peers' quorum, so the store would not come back`,
          fix: `recreate ${workload} with podManagementPolicy: Parallel (the field cannot change in place: kubectl delete statefulset --cascade=orphan, then apply it with the new policy; the pods keep running), or use the rolling strategy where preflight allows it`,
        },
      };
    return {
      strategy,
      expectedDowntime:
        replicas <= 1
          ? `full store downtime while ${workload} restarts (single replica; typically seconds, bounded by ${restartTimeout} before a pause)`
          : `full store downtime while all ${replicas} pods of ${workload} restart together (bounded by ${restartTimeout} before a pause)`,
    };
  }
  const refuse = (reason: string, fix = ALL_AT_ONCE_FIX): RootRestartPlan => ({
    strategy,
    expectedDowntime: 'none: refused before anything changes',
    refused: { reason, fix },
  });
  if (replicas < 2)
    return refuse(`${workload} has ${replicas} replica: a rolling restart needs at least 2 pods`);
  if (kind === 'minio')
    return refuse(
      "MinIO's nodes must agree on the root: a node restarted with another root hangs at start, so a rolling restart never finishes",
    );
  if (!iamSurvivesRootChange)
    return refuse(
      'this store seals IAM with the root secret: nodes on the new root cannot read what the others hold until every node has changed',
    );
  if (!rpcSecret.pinned)
    return refuse(
      `${rpcSecret.reason}; restarted nodes (new root) and the others (old root) could not authenticate each other ("No valid auth token") and a restarted node aborts for lack of read quorum`,
      `pin ${RPC_SECRET_ENV} in the store's pod spec (env valueFrom.secretKeyRef to a Secret of its own, not the root's), roll that out with the current root, then rotate; or ${ALL_AT_ONCE_FIX}`,
    );
  if (!erasure)
    return refuse('the admin API reports no erasure layout, so a node down cannot be shown to be tolerated');
  if (erasure.servers !== replicas)
    return refuse(
      `the store reports ${erasure.servers} servers but ${workload} has ${replicas} replicas: the workload is not the whole cluster`,
    );
  if (erasure.nodesTolerated < 1)
    return refuse(
      `the erasure sets (${erasure.drivesPerSet} drives, parity ${erasure.parity}, ${erasure.drivesDown} down now) keep their write quorum with no node down`,
      `bring every drive back first, or ${ALL_AT_ONCE_FIX}`,
    );
  if (!rolling)
    return refuse(
      `${replicas} pods could be restarted one at a time (${erasure.nodesTolerated} may be down), but this version neither checks each node before the next nor sends admin calls to a node holding the new root, so zones could stay unreachable past the point of no return`,
      "rotate this store's root by RustFS's procedure (RUSTFS_RPC_SECRET pinned, the credentials changed on every node, one node restarted at a time waiting for /health/ready, then the clients updated)",
    );
  // Each pod is checked through its own node (the Service answers from any node, on any root).
  if (rolling.podsWithEndpoints < replicas)
    return refuse(
      `the inventory names the endpoint of ${rolling.podsWithEndpoints} of the ${replicas} pods of ${workload}: each restarted node must be checked directly`,
      `set store.nodeEndpoints (a URL template with {pod}, e.g. the pods' names under the StatefulSet's headless Service), or ${ALL_AT_ONCE_FIX}`,
    );
  return {
    strategy,
    expectedDowntime: `none for consumers through the Service: the ${replicas} pods of ${workload} restart one at a time (${erasure.nodesTolerated} may be down), each checked — Ready, its node accepting the new root, the cluster healthy from every node for ${rolling.settleSeconds} s — before the next; while it rolls, the old root works only on the nodes not yet restarted`,
  };
}

/** The strategy a run uses: asked for (input, then inventory), else rolling where it is safe. */
export function chooseRootRestart(
  asked: RootStrategy | undefined,
  plan: (strategy: RootStrategy) => RootRestartPlan,
): RootRestartPlan {
  if (asked) return plan(asked);
  const rollingPlan = plan('rolling');
  return rollingPlan.refused ? plan('all-at-once') : rollingPlan;
}
