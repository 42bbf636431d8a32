import { Context } from '@temporalio/activity';
import { fingerprint } from '../fingerprint';
import { findZone, type Zone } from '../inventory';
import {
  deleteSecret,
  findConsumers,
  forceStatefulSetRollback,
  podsReferencingSecret,
  readSecret,
  rolloutRestart,
  rotationAnnotations,
  updateSecret,
  waitForRollout,
  type WorkloadRef,
} from '../kube';
import { generateCredentials } from '../rustfs';
import { KEYS, pendingName } from './credentials';
import { type ActivityDeps } from './deps';
import { nonRetryable } from './failures';

export interface CredentialRef {
  exists: boolean;
  accessKey?: string;
  fingerprint?: string;
  /** The Secret's endpoint equals the inventory's store.endpoint. */
  endpointMatches?: boolean;
}

export interface PendingRef {
  accessKey: string;
  fingerprint: string;
  previousAccessKey: string;
  previousFingerprint: string;
}

const STRATEGY_ANNOTATION = 'rotator.rustfs.dev/strategy';
const WORKFLOW_ANNOTATION = 'rotator.rustfs.dev/workflow-id';

const refName = (r: WorkloadRef) => `${r.kind}/${r.namespace}/${r.name}`;

/** The workflow that called the running activity; undefined outside one (tests, the CLI). */
function callingWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}

export function createKubernetesActivities(deps: ActivityDeps) {
  const { kube, inventory } = deps;
  const zoneOf = (name: string): Zone => findZone(inventory, name);

  const describe = async (namespace: string, name: string): Promise<CredentialRef> => {
    const s = await readSecret(kube, namespace, name);
    const ak = s?.data[KEYS.accessKey];
    const sk = s?.data[KEYS.secretKey];
    if (!ak || !sk) return { exists: false };
    return {
      exists: true,
      accessKey: ak,
      fingerprint: fingerprint(sk),
      endpointMatches: s.data[KEYS.endpoint] === inventory.store.endpoint,
    };
  };

  /**
   * Records the new credential before anything else changes, so a crash at any later
   * point leaves what is needed to finish or undo. Idempotent per workflow: a retry or a
   * replayed run finds its own pending credential and reuses it.
   */
  const recordPending = async (
    ref: { namespace: string; name: string },
    workflowId: string,
    make: (current: { accessKey: string; secretKey: string }) => { accessKey: string; secretKey: string },
    strategy: string,
  ): Promise<PendingRef> => {
    const current = await readSecret(kube, ref.namespace, ref.name);
    const cak = current?.data[KEYS.accessKey];
    const csk = current?.data[KEYS.secretKey];
    if (!cak || !csk) {
      throw nonRetryable(
        `Secret ${ref.namespace}/${ref.name} holds no credential (access-key/secret-key): run BootstrapCluster first`,
        'CredentialMissing',
      );
    }
    const name = pendingName(ref.name);
    let result: PendingRef | undefined;
    await updateSecret(kube, ref.namespace, name, (existing) => {
      const mine = existing?.annotations[WORKFLOW_ANNOTATION] === workflowId;
      if (existing && mine && existing.data[KEYS.accessKey] && existing.data[KEYS.secretKey]) {
        result = {
          accessKey: existing.data[KEYS.accessKey]!,
          fingerprint: fingerprint(existing.data[KEYS.secretKey]!),
          previousAccessKey: existing.data[KEYS.previousAccessKey] ?? cak,
          previousFingerprint: fingerprint(existing.data[KEYS.previousSecretKey] ?? csk),
        };
        return null;
      }
      // A pending credential of an abandoned run is replaced; its store identity is
      // cleaned up by the store activities (they compare against what the Secret holds).
      const fresh = make({ accessKey: cak, secretKey: csk });
      result = {
        accessKey: fresh.accessKey,
        fingerprint: fingerprint(fresh.secretKey),
        previousAccessKey: cak,
        previousFingerprint: fingerprint(csk),
      };
      return {
        data: {
          [KEYS.accessKey]: fresh.accessKey,
          [KEYS.secretKey]: fresh.secretKey,
          [KEYS.endpoint]: current.data[KEYS.endpoint] ?? inventory.store.endpoint,
          [KEYS.previousAccessKey]: cak,
          [KEYS.previousSecretKey]: csk,
        },
        annotations: {
          ...rotationAnnotations({ at: new Date(), workflowId, fingerprint: fingerprint(fresh.secretKey) }),
          [WORKFLOW_ANNOTATION]: workflowId,
          [STRATEGY_ANNOTATION]: strategy,
        },
        labels: { 'app.kubernetes.io/managed-by': 'rustfs-rotator' },
      };
    });
    return result!;
  };

  /** Copies one credential of the pending Secret into the live Secret (promotion or rollback). */
  const copyFromPending = async (
    ref: { namespace: string; name: string },
    which: 'pending' | 'previous',
    workflowId: string,
    at: string,
  ): Promise<{ fingerprint: string; changed: boolean; writtenAt: string }> => {
    const pending = await readSecret(kube, ref.namespace, pendingName(ref.name));
    const [ak, sk] =
      which === 'pending'
        ? [KEYS.accessKey, KEYS.secretKey]
        : [KEYS.previousAccessKey, KEYS.previousSecretKey];
    const accessKey = pending?.data[ak];
    const secretKey = pending?.data[sk];
    if (!accessKey || !secretKey) {
      throw nonRetryable(
        `Secret ${ref.namespace}/${pendingName(ref.name)} has no ${which} credential to write into ${ref.name}`,
        'CredentialMissing',
      );
    }
    const fp = fingerprint(secretKey);
    const res = await updateSecret(kube, ref.namespace, ref.name, (current) => {
      if (current?.data[KEYS.accessKey] === accessKey && current.data[KEYS.secretKey] === secretKey)
        return null;
      return {
        data: {
          ...(current?.data ?? {}),
          [KEYS.accessKey]: accessKey,
          [KEYS.secretKey]: secretKey,
          [KEYS.endpoint]:
            current?.data[KEYS.endpoint] ?? pending!.data[KEYS.endpoint] ?? inventory.store.endpoint,
        },
        annotations: rotationAnnotations({ at: new Date(at), workflowId, fingerprint: fp }),
      };
    });
    // RotateZone takes this as the instant of the switch: never earlier than the write.
    return { fingerprint: fp, changed: res.outcome !== 'unchanged', writtenAt: new Date().toISOString() };
  };

  /**
   * A pending record is the lock of the run named in it: a run deletes only its own. A run
   * refused because another holds the zone must not delete that run's record on its way out.
   * Same workflow ID is enough: two runs of one ID are never open at once, and a closed
   * run's record is replaced by the next owner before that owner changes anything.
   */
  const deleteOwnPending = async (namespace: string, name: string): Promise<string> => {
    const record = await readSecret(kube, namespace, name);
    if (!record) return `${namespace}/${name}: already gone`;
    const owner = record.annotations[WORKFLOW_ANNOTATION];
    const caller = callingWorkflowId();
    if (owner && caller && owner !== caller) return `${namespace}/${name}: kept, it belongs to ${owner}`;
    await deleteSecret(kube, namespace, name, { resourceVersion: record.resourceVersion });
    return `${namespace}/${name}: deleted`;
  };

  return {
    /** The zone Secret's credential, as a reference: access-key ID and fingerprint. */
    async describeZoneSecret(zoneName: string): Promise<CredentialRef> {
      const zone = zoneOf(zoneName);
      return describe(zone.secret.namespace, zone.secret.name);
    },

    async describeRootSecret(): Promise<CredentialRef> {
      return describe(inventory.store.rootSecret.namespace, inventory.store.rootSecret.name);
    },

    /** The workloads to restart after the zone Secret changes. */
    async zoneConsumers(zoneName: string): Promise<WorkloadRef[]> {
      const zone = zoneOf(zoneName);
      if (zone.consumers !== 'auto') return zone.consumers.map((c) => ({ ...c }));
      const found = await findConsumers(kube, zone.secret.namespace, zone.secret.name);
      return found.map(({ kind, namespace, name }) => ({ kind, namespace, name }));
    },

    /**
     * Bootstrap: make sure the zone Secret exists with a credential and the right
     * endpoint. A new credential is generated here and goes straight into the Secret.
     */
    async ensureZoneSecret(
      zoneName: string,
      opts: { workflowId: string; at: string },
    ): Promise<{ created: boolean; endpointFixed: boolean; accessKey: string; fingerprint: string }> {
      const zone = zoneOf(zoneName);
      let out:
        { created: boolean; endpointFixed: boolean; accessKey: string; fingerprint: string } | undefined;
      await updateSecret(kube, zone.secret.namespace, zone.secret.name, (current) => {
        const ak = current?.data[KEYS.accessKey];
        const sk = current?.data[KEYS.secretKey];
        if (ak && sk) {
          const endpointFixed = current.data[KEYS.endpoint] !== inventory.store.endpoint;
          out = { created: false, endpointFixed, accessKey: ak, fingerprint: fingerprint(sk) };
          if (!endpointFixed) return null;
          return { data: { ...current.data, [KEYS.endpoint]: inventory.store.endpoint } };
        }
        const fresh = generateCredentials();
        const accessKey = zone.strategy === 'in-place' ? zone.user : fresh.accessKey;
        out = { created: true, endpointFixed: false, accessKey, fingerprint: fingerprint(fresh.secretKey) };
        return {
          data: {
            [KEYS.accessKey]: accessKey,
            [KEYS.secretKey]: fresh.secretKey,
            [KEYS.endpoint]: inventory.store.endpoint,
          },
          annotations: rotationAnnotations({
            at: new Date(opts.at),
            workflowId: opts.workflowId,
            fingerprint: out.fingerprint,
          }),
          labels: { 'app.kubernetes.io/managed-by': 'rustfs-rotator' },
        };
      });
      return out!;
    },

    /** Step 2 of RotateZone: generate the new credential and record it (and the previous) as pending. */
    async recordZonePending(
      zoneName: string,
      opts: { workflowId: string; strategy: 'overlap' | 'in-place' },
    ): Promise<PendingRef> {
      const zone = zoneOf(zoneName);
      return recordPending(
        zone.secret,
        opts.workflowId,
        () => {
          const fresh = generateCredentials();
          // in-place keeps the seed's contract: the access key is the user name.
          return opts.strategy === 'in-place' ? { accessKey: zone.user, secretKey: fresh.secretKey } : fresh;
        },
        opts.strategy,
      );
    },

    async promoteZonePending(zoneName: string, opts: { workflowId: string; at: string }) {
      return copyFromPending(zoneOf(zoneName).secret, 'pending', opts.workflowId, opts.at);
    },

    async restoreZonePrevious(zoneName: string, opts: { workflowId: string; at: string }) {
      return copyFromPending(zoneOf(zoneName).secret, 'previous', opts.workflowId, opts.at);
    },

    async deleteZonePending(zoneName: string): Promise<string> {
      const zone = zoneOf(zoneName);
      return deleteOwnPending(zone.secret.namespace, pendingName(zone.secret.name));
    },

    /** RotateRoot step 3: the new root secret (same access key), recorded with the previous one. */
    async recordRootPending(opts: { workflowId: string }): Promise<PendingRef> {
      return recordPending(
        inventory.store.rootSecret,
        opts.workflowId,
        (current) => ({ accessKey: current.accessKey, secretKey: generateCredentials().secretKey }),
        'root',
      );
    },

    async promoteRootPending(opts: { workflowId: string; at: string }) {
      return copyFromPending(inventory.store.rootSecret, 'pending', opts.workflowId, opts.at);
    },

    async restoreRootPrevious(opts: { workflowId: string; at: string }) {
      return copyFromPending(inventory.store.rootSecret, 'previous', opts.workflowId, opts.at);
    },

    async deleteRootPending(): Promise<string> {
      const { namespace, name } = inventory.store.rootSecret;
      return deleteOwnPending(namespace, pendingName(name));
    },

    /**
     * `kubectl rollout restart` of each workload. `at` comes from the workflow, so a
     * retried activity writes the same restartedAt and restarts nothing twice.
     */
    async restartWorkloads(refs: WorkloadRef[], at: string): Promise<string[]> {
      const restarted: string[] = [];
      for (const ref of refs) {
        await rolloutRestart(kube, ref, new Date(at));
        restarted.push(refName(ref));
      }
      return restarted;
    },

    /** After reverting a StatefulSet's template: replace its pods stuck in the broken revision. */
    async forceRollback(ref: WorkloadRef): Promise<string[]> {
      return forceStatefulSetRollback(kube, ref);
    },

    /** `kubectl rollout status` for each workload, heartbeating kubectl's progress line. */
    async waitForRollouts(refs: WorkloadRef[], timeoutMs: number): Promise<string[]> {
      const ctx = Context.current();
      const done: string[] = [];
      for (const ref of refs) {
        const status = await waitForRollout(kube, ref, {
          timeoutMs,
          progressIntervalMs: Math.min(deps.pollIntervalMs ?? 5000, 5000),
          onProgress: (message) => ctx.heartbeat({ workload: refName(ref), message }),
          signal: ctx.cancellationSignal,
        });
        done.push(`${refName(ref)}: ${status.message}`);
      }
      return done;
    },

    /**
     * Running pods that started before the promotion and reference the zone Secret: they
     * may still hold the previous key, so it must stay valid until they are gone.
     */
    async podsHoldingPrevious(zoneName: string, promotedAt: string): Promise<string[]> {
      const zone = zoneOf(zoneName);
      // Pod start times have one-second resolution: every pod of the promotion's second
      // counts as possibly holding the previous key, unless its template was restarted
      // after the promotion (restartedAt later than it): such a pod was created after the
      // Secret changed, so it read the new key.
      const promotedMs = Date.parse(promotedAt);
      const cutoff = Math.floor(promotedMs / 1000) * 1000 + 1000;
      const pods = await podsReferencingSecret(kube, zone.secret.namespace, zone.secret.name, {
        startedBefore: new Date(cutoff),
        restartedAfter: new Date(promotedMs),
        runningOnly: true,
      });
      return pods.map((p) => `${p.name}${p.owner ? ` (${p.owner})` : ''}`);
    },
  };
}

export type KubernetesActivities = ReturnType<typeof createKubernetesActivities>;
