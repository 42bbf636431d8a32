// RotateRoot's restarts of single store pods (issue 25 point 3): the rolling strategy restarts
// one pod, then checks that pod's own node and the whole cluster before the next; every check
// goes to a node by its own endpoint (store.nodeEndpoints), never through the Service, which
// would answer from whichever node it picks, on whichever root that node holds.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { fingerprint } from '../fingerprint';
import { nodeEndpointOf } from '../inventory';
import { deleteStatefulSetPods, readWorkload, type ReplacedPod } from '../kube';
import { type AdminClient, type Credentials, failoverAdmin, settleWithin } from '../rustfs';
import { degradedReasons, erasureLayout } from '../rustfs/topology';
import { FAILURE } from '../workflows/names';
import { storePodNames } from '../workflows/root-restart';
import { readRoot } from './credentials';
import { type ActivityDeps } from './deps';
import { nonRetryable } from './failures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One node's answer, or a failure after `ms`: a node whose peers hang can hold a request for
 * the client's 30 s (seen on rc.3 after every node restarted at once: server info and
 * /minio/health/cluster timing out for minutes), which would outlast the waits' 30 s heartbeat.
 */
const NODE_CALL_MS = 5_000;
export function bounded<T>(p: Promise<T>, what: string, ms = NODE_CALL_MS): Promise<T> {
  return settleWithin(p, ms, () => new Error(`${what}: no answer within ${ms / 1000} s`));
}

/** What one node answered. */
export interface NodeCheck {
  pod: string;
  /** Fingerprint of the root the node accepts, of those tried; undefined when it accepts none. */
  root?: string;
  /** The node's own view of the cluster: write quorum (or every drive online) from this node. */
  clusterHealthy: boolean;
  detail: string;
}

/** What finding a store's nodes takes: the inventory, and the apiserver for the workload's replicas. */
type NodeDeps = Pick<ActivityDeps, 'inventory' | 'kube'>;

export function createStoreNodeActivities(deps: ActivityDeps) {
  const { kube, inventory } = deps;
  // Read when called: the worker's tests build the activity set from empty deps for its names.
  const storeOf = () => inventory.store;

  const endpointOf = (pod: string): string => {
    const endpoint = nodeEndpointOf(storeOf(), pod);
    if (!endpoint)
      throw nonRetryable(
        `the inventory names no endpoint for store pod ${pod} (store.nodeEndpoints)`,
        'NodeEndpointMissing',
      );
    return endpoint;
  };

  const replicasNow = () => workloadReplicas(deps);

  /**
   * The cluster as one node sees it. RustFS from beta.9 (and MinIO) serve
   * /minio/health/cluster: 200 only while this node holds write quorum and lock quorum
   * (rc.3 rustfs/src/server/readiness.rs collect_cluster_write_health_report). Earlier
   * releases answer it 403/404; their server info marks a stopped peer offline at once
   * (captured on beta.7: test/fixtures/rustfs/1.0.0-beta.7/rustfs/info-4-nodes-one-down.json),
   * which rc.3's does not for a while, so it is only the fallback.
   */
  const clusterFrom = async (
    endpoint: string,
    admin: AdminClient | undefined,
  ): Promise<[boolean, string]> => {
    const res = await fetch(`${endpoint}/minio/health/cluster`, {
      signal: AbortSignal.timeout(NODE_CALL_MS),
    });
    const body = await res.text().catch(() => '');
    if (res.status !== 403 && res.status !== 404) {
      const why = res.ok ? '' : degradedReasons(body).join(', ');
      return [res.ok, `/minio/health/cluster ${res.status}${why && ` (${why})`}`];
    }
    if (!admin) return [false, 'no root this node accepts, to read its server info'];
    const info = (await bounded(admin.serverInfo(), 'server info')).raw as Record<string, unknown>;
    const layout = erasureLayout(info);
    const message = (info.servers ? info : info.info) as { servers?: { state?: string }[] } | undefined;
    const offline = (message?.servers ?? []).filter((s) => s.state !== 'online').length;
    if (!layout) return [false, 'server info reports no erasure backend'];
    return [
      layout.drivesDown === 0 && offline === 0,
      `server info: ${layout.drivesDown} drive(s) and ${offline} server(s) down`,
    ];
  };

  /** Asks `pod`'s own node which of `roots` it accepts, and how it sees the cluster. */
  const checkNode = async (pod: string, roots: Credentials[]): Promise<NodeCheck> => {
    const endpoint = endpointOf(pod);
    try {
      let accepted: AdminClient | undefined;
      let root: string | undefined;
      for (const cred of roots) {
        const admin = deps.admin(cred, endpoint);
        try {
          await bounded(admin.serverInfo(), 'server info');
          accepted = admin;
          root = fingerprint(cred.secretKey);
          break;
        } catch {
          // Not this root (or not serving yet): the next, and the health below says which.
        }
      }
      const [clusterHealthy, detail] = await clusterFrom(endpoint, accepted);
      return { pod, root, clusterHealthy, detail };
    } catch (err) {
      return { pod, clusterHealthy: false, detail: err instanceof Error ? err.message : String(err) };
    }
  };

  /**
   * The roots a node may hold during a root rotation, the Secret's first: then the pending
   * record's new and previous ones (a rollback restores the previous into the Secret while
   * some nodes still run on the new).
   */
  const candidateRoots = async (): Promise<Credentials[]> => {
    const current = await readRoot(kube, inventory, 'current');
    const others = await Promise.all(
      (['pending', 'previous'] as const).map((s) => readRoot(kube, inventory, s).catch(() => undefined)),
    );
    const roots = [current];
    for (const r of others) if (r && !roots.some((k) => k.secretKey === r.secretKey)) roots.push(r);
    return roots;
  };

  const podState = async (pod: string) => {
    const listed = await kube.core.listNamespacedPod({
      namespace: storeOf().workload.namespace,
      fieldSelector: `metadata.name=${pod}`,
    });
    const p = listed.items[0];
    return {
      uid: p?.metadata?.uid ?? '',
      terminating: Boolean(p?.metadata?.deletionTimestamp),
      ready: p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    };
  };

  return {
    /**
     * Restarts the named store pods (every pod, when none is named) by deleting them: each comes
     * back reading the root Secret anew. The returned UIDs are those of the pods deleted, which
     * waitForStoreNode tells their replacements from.
     */
    async restartStorePods(pods?: string[]): Promise<ReplacedPod[]> {
      const { workload } = storeOf();
      const names = pods ?? storePodNames(workload.name, await replicasNow());
      return deleteStatefulSetPods(kube, workload, names);
    },

    /**
     * The rolling strategy's check after restarting `pod`: its replacement (another UID) is
     * Ready, its own node accepts the root the Secret holds (fingerprint `expectFingerprint`),
     * and every node of the store sees a healthy cluster, without a break, for `settleMs` (the
     * StatefulSet's minReadySeconds: a restarted RustFS node is not seen by its peers at once,
     * and replacing the next pod sooner left the others answering 503 SlowDown — measured on
     * rc.3, docs/developing.md). Heartbeats; fails with RestartWindowExceeded after `timeoutMs`,
     * which the workflow turns into a pause.
     */
    async waitForStoreNode(opts: {
      pod: string;
      replacedUid: string;
      expectFingerprint: string;
      timeoutMs: number;
    }): Promise<string> {
      const ctx = Context.current();
      const deadline = Date.now() + opts.timeoutMs;
      const workload = await readWorkload(kube, storeOf().workload);
      const settleMs =
        ((workload.spec && 'minReadySeconds' in workload.spec ? workload.spec.minReadySeconds : 0) ?? 0) *
        1000;
      let healthySince: number | undefined;
      let last = 'not checked yet';
      for (;;) {
        try {
          const pod = await podState(opts.pod);
          const roots = await candidateRoots();
          if (fingerprint(roots[0]!.secretKey) !== opts.expectFingerprint) {
            last = `root Secret holds ${fingerprint(roots[0]!.secretKey)}, expected ${opts.expectFingerprint}`;
            healthySince = undefined;
          } else if (!pod.uid || pod.uid === opts.replacedUid || pod.terminating || !pod.ready) {
            last = `pod ${opts.pod} ${!pod.uid ? 'not recreated yet' : pod.uid === opts.replacedUid || pod.terminating ? 'not replaced yet' : 'not Ready'}`;
            healthySince = undefined;
          } else {
            const nodes = await Promise.all(
              storePodNames(storeOf().workload.name, await replicasNow()).map((p) => checkNode(p, roots)),
            );
            const self = nodes.find((n) => n.pod === opts.pod);
            const sick = nodes.filter((n) => !n.clusterHealthy);
            if (self?.root !== opts.expectFingerprint) {
              last = `pod ${opts.pod} is Ready but its node does not accept root ${opts.expectFingerprint} (${self?.detail ?? 'no answer'})`;
              healthySince = undefined;
            } else if (sick.length) {
              last = `cluster not healthy from ${sick.map((n) => `${n.pod} (${n.detail})`).join(', ')}`;
              healthySince = undefined;
            } else {
              healthySince ??= Date.now();
              const held = Date.now() - healthySince;
              last = `pod ${opts.pod} back on root ${opts.expectFingerprint}; cluster healthy from every node for ${Math.round(held / 1000)} s of ${settleMs / 1000} s`;
              if (held >= settleMs) return last;
            }
          }
        } catch (err) {
          last = err instanceof Error ? err.message : String(err);
          healthySince = undefined;
        }
        ctx.heartbeat(last);
        if (Date.now() >= deadline) {
          throw nonRetryable(
            `store pod ${opts.pod} did not come back with root ${opts.expectFingerprint} within ${Math.round(opts.timeoutMs / 1000)}s: ${last}`,
            FAILURE.restartWindowExceeded,
          );
        }
        await Promise.race([
          sleep(Math.min(deps.pollIntervalMs ?? 1000, 1000)),
          ctx.cancelled.catch(() => undefined),
        ]);
        if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      }
    },
  };
}

/** How many pods the store workload asks for now. */
async function workloadReplicas(deps: NodeDeps): Promise<number> {
  const workload = await readWorkload(deps.kube, deps.inventory.store.workload);
  return (workload.spec && 'replicas' in workload.spec ? workload.spec.replicas : undefined) ?? 1;
}

/**
 * Each store pod and its own endpoint, when the inventory names them (store.nodeEndpoints) and
 * the workload runs more than one pod; empty for a single-node store.
 */
export async function storeNodeEndpoints(
  deps: NodeDeps,
  replicas?: number,
): Promise<Array<{ pod: string; endpoint: string }>> {
  const store = deps.inventory.store;
  if (store.nodeEndpoints === undefined) return [];
  const n = replicas ?? (await workloadReplicas(deps));
  if (n < 2) return [];
  return storePodNames(store.workload.name, n).flatMap((pod) => {
    const endpoint = nodeEndpointOf(store, pod);
    return endpoint ? [{ pod, endpoint }] : [];
  });
}

/** Whether a node answers HTTP at all (any status): a node that does not is not behind the Service either. */
async function nodeServing(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/minio/health/live`, { signal: AbortSignal.timeout(NODE_CALL_MS) });
    await res.arrayBuffer().catch(() => undefined);
    return true;
  } catch {
    return false;
  }
}

/**
 * The nodes of a multi-node store (store.nodeEndpoints) that answer HTTP, by ordinal, and the
 * pods of those that do not; both empty for a single-node store.
 */
export async function servingNodes(
  deps: NodeDeps,
): Promise<{ serving: Array<{ pod: string; endpoint: string }>; down: string[] }> {
  const nodes = await storeNodeEndpoints(deps);
  const up = await Promise.all(nodes.map((n) => nodeServing(n.endpoint)));
  return { serving: nodes.filter((_, i) => up[i]), down: nodes.filter((_, i) => !up[i]).map((n) => n.pod) };
}

/**
 * How long one IAM call may take on one node of a multi-node store before the call moves to
 * the next node (failoverAdmin): a healthy node answers in well under a second, and RustFS
 * gives up on a lock after 5 s.
 */
const IAM_NODE_CALL_MS = 15_000;

/**
 * The root's admin client for IAM writes and their read-backs. On a multi-node store whose
 * inventory names each pod's endpoint, one node at a time, the first serving by ordinal, and the
 * next when it stops answering (failoverAdmin): a node reads back its own IAM writes at once and
 * its peers only once told (fire-and-forget, or at the next 120 s reload), and through the
 * Service a write on one node and the check on another saw an account "already exists" that
 * "does not exist" (alpha.85, 4 nodes). Otherwise the store's admin endpoint.
 */
export async function iamAdmin(deps: ActivityDeps, root: Credentials): Promise<AdminClient> {
  const { serving } = await servingNodes(deps);
  if (!serving.length) return deps.admin(root);
  return failoverAdmin(
    serving.map((n) => n.endpoint),
    (endpoint) => deps.admin(root, endpoint),
    IAM_NODE_CALL_MS,
  );
}

/**
 * How long a removed key may go on working on another node of the store. The node that took the
 * removal refuses the key at once; RustFS tells its peers fire-and-forget (crates/iam/src/sys.rs
 * notify_for_user) and each reloads IAM every 120 s, so a peer that missed the notice accepts
 * the key until its reload. Inside a quick step's minute: a step that fails on it is retried,
 * and the removal with it, so the retries together cover the reload.
 */
const REVOKED_WAIT_MS = 40_000;
const REVOKED_POLL_MS = 2_000;

/**
 * On a multi-node store whose inventory names each pod's endpoint: waits until every serving
 * node refuses `cred` (each asked directly), and says so; a node that does not answer HTTP is
 * skipped and named (it loads IAM anew when it starts). Empty on a single-node store. Fails
 * (retryable, RevocationNotEverywhere) naming the nodes that still accept the key, or that gave
 * no verdict, after REVOKED_WAIT_MS.
 */
export async function refusedOnEveryNode(
  deps: NodeDeps,
  cred: Credentials,
  authenticates: (cred: Credentials, endpoint?: string) => Promise<boolean>,
  waitMs = REVOKED_WAIT_MS,
): Promise<string> {
  const { serving, down } = await servingNodes(deps);
  if (!serving.length) return '';
  const deadline = Date.now() + waitMs;
  let open = serving.map((n) => ({ ...n, state: 'not asked yet' }));
  for (;;) {
    const verdicts = await Promise.all(
      open.map((n) =>
        bounded(authenticates(cred, n.endpoint), 'an S3 request').then(
          (accepted) => (accepted ? 'still accepts it' : ''),
          (err: unknown) => `no verdict: ${err instanceof Error ? err.message : String(err)}`,
        ),
      ),
    );
    open = open.map((n, i) => ({ ...n, state: verdicts[i]! })).filter((n) => n.state);
    if (!open.length)
      return `refused by every serving node (${serving.map((n) => n.pod).join(', ')})${down.length ? `; not serving, so not asked: ${down.join(', ')}` : ''}`;
    if (Date.now() >= deadline)
      throw ApplicationFailure.retryable(
        `key ${cred.accessKey} was removed, but ${Math.round(waitMs / 1000)} s later ${open.map((n) => `${n.pod} ${n.state}`).join('; ')}`,
        FAILURE.revocationNotEverywhere,
      );
    await sleep(REVOKED_POLL_MS);
  }
}

/**
 * For waitForStoreWithRoot on a store whose inventory names each pod's endpoint: the nodes that
 * do not accept `root` (each asked directly). Empty when every node is on it.
 */
export async function nodesOffRoot(
  deps: ActivityDeps,
  root: Credentials,
  replicas: number,
): Promise<string[]> {
  const store = deps.inventory.store;
  if (store.nodeEndpoints === undefined || replicas < 2) return [];
  const pods = storePodNames(store.workload.name, replicas);
  const on = await Promise.all(
    pods.map(async (pod) => {
      const endpoint = nodeEndpointOf(store, pod);
      if (!endpoint) return false;
      return bounded(deps.admin(root, endpoint).serverInfo(), 'server info').then(
        () => true,
        () => false,
      );
    }),
  );
  return pods.filter((_, i) => !on[i]);
}

export type StoreNodeActivities = ReturnType<typeof createStoreNodeActivities>;
