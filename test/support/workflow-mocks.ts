// Mocked activities for the cancel and compensation workflow tests: a store and cluster
// reduced to what the workflows see (fingerprints, access-key IDs, pods), every call
// recorded, any activity made to fail or to block until the test says so.
import { Context } from '@temporalio/activity';
import { type Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { type Activities } from '../../src/activities';
import { statusQuery } from '../../src/workflows/definitions';
import { type Phase, type WorkflowStatus } from '../../src/workflows/types';
import { mockActivities } from './workflow-env';

import { inventory } from './dashi';

export { inventory, ZONES } from './dashi';

export const FP = {
  previous: 'sha256:aaaaaaaaaaaa',
  pending: 'sha256:bbbbbbbbbbbb',
  rootPrevious: 'sha256:111111111111',
  rootPending: 'sha256:222222222222',
};
export const AK = { previous: 'AKPREVIOUS000001', pending: 'AKPENDING0000002' };

type Name = keyof Activities;
type Impl = (...args: never[]) => Promise<unknown>;

/** A recorded call: the activity's name and its first argument when that is a zone name. */
export interface Call {
  name: Name;
  args: unknown[];
}

export class Fake {
  readonly calls: Call[] = [];
  private readonly overrides = new Map<Name, Impl>();
  private readonly waiters: { name: Name; resolve: () => void }[] = [];

  /** Replaces one activity's behaviour. */
  on(name: Name, impl: Impl): this {
    this.overrides.set(name, impl);
    return this;
  }

  /** The activity fails non-retryably with this message. */
  fail(name: Name, message: string): this {
    return this.on(name, async () => {
      throw ApplicationFailure.nonRetryable(message, 'TestFailure');
    });
  }

  /** The activity runs until it is cancelled (it heartbeats, so a regular activity learns of it). */
  block(name: Name): this {
    return this.on(name, () => untilCancelled());
  }

  /** The calls for which `when` holds fail non-retryably with `message`; the others behave as before. */
  failWhen(name: Name, when: (...args: never[]) => boolean, message: string): this {
    const before = this.overrides.get(name);
    return this.on(name, async (...args: never[]) => {
      if (when(...args)) throw ApplicationFailure.nonRetryable(message, 'TestFailure');
      return (before ?? this.defaults()[name]!)(...args);
    });
  }

  /** The first call fails non-retryably with `message`; later calls behave as before. */
  failFirst(name: Name, message: string): this {
    return this.failWhen(name, () => this.count(name) === 1, message);
  }

  /** The first call runs until it is cancelled; later calls behave as before. */
  blockOnce(name: Name): this {
    const before = this.overrides.get(name);
    let first = true;
    return this.on(name, (...args: never[]) => {
      if (!first) return (before ?? this.defaults()[name]!)(...args);
      first = false;
      return untilCancelled();
    });
  }

  /** Resolves when `name` has been called `n` times. */
  called(name: Name, n = 1): Promise<void> {
    if (this.count(name) >= n) return Promise.resolve();
    return new Promise((resolve) =>
      this.waiters.push({ name, resolve: () => this.count(name) >= n && resolve() }),
    );
  }

  count(name: Name): number {
    return this.calls.filter((c) => c.name === name).length;
  }

  names(): Name[] {
    return this.calls.map((c) => c.name);
  }

  activities(): Activities {
    const defaults = this.defaults();
    const impl: Partial<Record<Name, unknown>> = {};
    // Activities without a default (announce) are recorded once a test gives them an impl.
    for (const name of new Set([...Object.keys(defaults), ...this.overrides.keys()]) as Set<Name>) {
      impl[name] = async (...args: never[]) => {
        this.calls.push({ name, args });
        for (const w of [...this.waiters]) w.resolve();
        return (this.overrides.get(name) ?? defaults[name]!)(...args);
      };
    }
    return mockActivities(impl as Partial<Activities>);
  }

  private defaults(): Partial<Record<Name, Impl>> {
    const value = (v: unknown) => async () => v;
    const pending = {
      accessKey: AK.pending,
      fingerprint: FP.pending,
      previousAccessKey: AK.previous,
      previousFingerprint: FP.previous,
    };
    return {
      inventorySnapshot: value(inventory),
      assertNoConflictingRun: value(undefined),
      verifyRoot: value({ kind: 'rustfs', version: 'test', iamSurvivesRootChange: true }),
      describeRootSecret: value({ exists: true, accessKey: 'rustfsadmin', fingerprint: FP.rootPrevious }),
      lockRootPending: value({
        accessKey: 'rustfsadmin',
        fingerprint: FP.rootPending,
        previousAccessKey: 'rustfsadmin',
        previousFingerprint: FP.rootPrevious,
        found: 'no pending record: lock taken',
      }),
      promoteRootPending: value({ fingerprint: FP.rootPending, changed: true, writtenAt: now() }),
      restoreRootPrevious: value({ fingerprint: FP.rootPrevious, changed: true, writtenAt: now() }),
      deleteRootPending: value(undefined),
      waitForStoreWithRoot: value('store ready'),
      forceRollback: value([]),
      describeZoneSecret: value({
        exists: true,
        accessKey: AK.previous,
        fingerprint: FP.previous,
        endpointMatches: true,
      }),
      zoneConsumers: value([{ kind: 'Deployment', namespace: 'dashi-serving', name: 'titiler' }]),
      lockZonePending: value({ ...pending, found: 'no pending record: lock taken' }),
      zoneHolder: value(undefined),
      holdZone: value({ found: 'zone held' }),
      releaseZone: value('released'),
      ensureZoneIdentity: value({ userCreated: false, credential: AK.pending, fingerprint: FP.pending }),
      ensureZonePolicies: value(inventory.zones.map((z) => `dashi-${z.name}`)),
      smokeZone: value({ passed: 4, cells: 4 }),
      promoteZonePending: async () => ({ fingerprint: FP.pending, changed: true, writtenAt: now() }),
      restoreZonePrevious: async () => ({ fingerprint: FP.previous, changed: true, writtenAt: now() }),
      restartWorkloads: async (refs: { kind: string; namespace: string; name: string }[]) =>
        refs.map((r) => `${r.kind}/${r.namespace}/${r.name}`),
      waitForRollouts: value(['Deployment/dashi-serving/titiler: rolled out']),
      podsHoldingPrevious: value([]),
      discardPendingIdentity: value(`removed ${AK.pending}`),
      revokePrevious: value(`removed ${AK.previous}`),
      deleteZonePending: value(undefined),
      ensureBuckets: value(['dashi']),
      ensureZoneSecret: value({ created: false, fingerprint: FP.previous, endpointFixed: false }),
      ensureWorkPools: value([]),
      applyNetworkPolicies: value([{ policy: 'dashi-platform/rotator-store-access', outcome: 'unchanged' }]),
    } as Partial<Record<Name, Impl>>;
  }
}

const now = () => new Date().toISOString();

async function untilCancelled(): Promise<never> {
  const ctx = Context.current();
  for (;;) {
    ctx.heartbeat();
    await Promise.race([ctx.cancelled, new Promise((r) => setTimeout(r, 100))]);
  }
}

/** Polls the status query until the run reaches `phase` (the workflow clock stands still meanwhile). */
export async function untilPhase(
  client: Client,
  workflowId: string,
  phase: Phase,
  timeoutMs = 15_000,
): Promise<WorkflowStatus> {
  const handle = client.workflow.getHandle(workflowId);
  const deadline = Date.now() + timeoutMs;
  let status: WorkflowStatus | undefined;
  while (Date.now() < deadline) {
    status = await handle.query(statusQuery).catch(() => undefined);
    if (status?.phase === phase) return status;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${workflowId} did not reach phase ${phase}; last: ${JSON.stringify(status?.phase)}`);
}

/** How a run ended: CANCELED (with its memo outcome) or FAILED (with the failure's type and message). */
export async function ending(
  client: Client,
  workflowId: string,
): Promise<{
  execution: string;
  type?: string;
  message?: string;
  memo?: string;
  status: WorkflowStatus;
}> {
  const handle = client.workflow.getHandle(workflowId);
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  const desc = await handle.describe();
  const status = await handle.query(statusQuery);
  const memo = desc.memo?.outcome as string | undefined;
  if (!err) return { execution: desc.status.name, memo, status };
  if (!(err instanceof WorkflowFailedError)) throw err;
  if (err.cause instanceof CancelledFailure)
    return { execution: desc.status.name, message: err.cause.message, memo, status };
  const cause = err.cause as ApplicationFailure;
  return { execution: desc.status.name, type: cause.type ?? undefined, message: cause.message, memo, status };
}

/** A store that never comes back with the new root (RotateRoot pauses) but does with the previous one. */
export function storeNeverBack(): Fake {
  return new Fake().on('waitForStoreWithRoot', async (opts: { expectFingerprint: string }) => {
    if (opts.expectFingerprint === FP.rootPending)
      throw ApplicationFailure.nonRetryable('store not back within 3s', 'RestartWindowExceeded');
    return 'store ready with the previous root';
  });
}

/** What preflight reads of the sandbox's 4-node RustFS store with its RPC secret pinned. */
export const fourNodes = (over: object = {}) => ({
  kind: 'rustfs',
  version: 'test',
  iamSurvivesRootChange: true,
  topology: {
    replicas: 4,
    rpcSecret: { pinned: true, via: 'key "rpc-secret" of Secret rustfs-rpc' },
    erasure: { servers: 4, sets: 1, drivesPerSet: 4, parity: 2, drivesDown: 0, nodesTolerated: 1 },
    podsWithEndpoints: 4,
    minReadySeconds: 15,
    ...over,
  },
});

/** A 4-pod store whose pods restart and come back; `stuck` pods never come back on the new root. */
export function fourPodStore(opts: { stuck?: string; over?: object; version?: object } = {}): Fake {
  return new Fake()
    .on('verifyRoot', async () => ({ ...fourNodes(opts.over), ...opts.version }))
    .on('restartStorePods', async (pods?: string[]) =>
      (pods ?? ['rustfs-0', 'rustfs-1', 'rustfs-2', 'rustfs-3']).map((pod) => ({ pod, uid: `uid-${pod}` })),
    )
    .on('waitForStoreNode', async (o: { pod: string; expectFingerprint: string }) => {
      if (o.pod === opts.stuck && o.expectFingerprint === FP.rootPending)
        throw ApplicationFailure.nonRetryable(
          `store pod ${o.pod} not back within 3s`,
          'RestartWindowExceeded',
        );
      return `pod ${o.pod} back on ${o.expectFingerprint}`;
    });
}
