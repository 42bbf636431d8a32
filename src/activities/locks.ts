// The zone lock is the zone's pending record (`<secret>-pending`; for the root
// `rustfs-root-pending`): created atomically before a run changes anything, annotated with
// the run that owns it. Whatever a run's workflow ID (CLI, Web UI, schedule, child), two
// runs cannot both hold it. A record whose owner is still open refuses the newcomer; a
// record left by a closed run (terminated, timed out, failed mid-compensation) is
// reconciled on purpose before it is taken over.
import { fingerprint } from '../fingerprint';
import { findZone, type Zone } from '../inventory';
import {
  createSecretIfAbsent,
  deleteSecret,
  podsReferencingSecret,
  readSecret,
  readWorkload,
  replaceSecretIfUnchanged,
  rolloutStatus,
  ROTATION_ANNOTATIONS,
  rotationAnnotations,
  updateSecret,
  type SecretChange,
  type SecretData,
} from '../kube';
import { type Credentials, generateCredentials, isAdminError } from '../rustfs';
import { KEYS, pendingName } from './credentials';
import { type ActivityDeps } from './deps';
import { nonRetryable } from './failures';
import { createIamWrites } from './iam-writes';
import { iamAdmin } from './store-nodes';
import { type PendingRef } from './kubernetes';
import { OWNER_ANNOTATIONS, pendingRecords, recordOwner } from './pending-records';
import { conflictingRotation, describeRunRef, runState, type RunState } from './temporal';

export interface LockOwner {
  workflowId: string;
  runId: string;
  workflowType: string;
}

export interface ZoneHold {
  /** The open run that holds the zone (or the root) instead of the caller. */
  heldBy?: RunState;
  /** What the run found and did (its step detail). */
  found: string;
}

export interface LockResult extends PendingRef {
  /** What the run found when it took the lock and what it did about it (its step detail). */
  found: string;
}

interface Keys {
  current: Credentials;
  pending: Credentials;
  previous: Credentials;
}

const same = (a: Credentials, b: Credentials) => a.accessKey === b.accessKey && a.secretKey === b.secretKey;
const show = (c: Credentials) => `${c.accessKey} ${fingerprint(c.secretKey)}`;
/** Lost races are re-decided on fresh reads; this bounds a pathological storm of them. */
const MAX_LOCK_ATTEMPTS = 6;

/** The holder of a record that names no run: closed, so the record may be reconciled. */
const NO_RUN: RunState = { workflowId: '(unknown)', open: false, status: 'UNKNOWN' };

function recordedKeys(record: SecretData): Omit<Keys, 'current'> | undefined {
  const d = record.data;
  const ak = d[KEYS.accessKey];
  const sk = d[KEYS.secretKey];
  const pak = d[KEYS.previousAccessKey];
  const psk = d[KEYS.previousSecretKey];
  if (!ak || !sk || !pak || !psk) return undefined;
  return { pending: { accessKey: ak, secretKey: sk }, previous: { accessKey: pak, secretKey: psk } };
}

function keysOf(record: SecretData, current: Credentials): Keys | undefined {
  const keys = recordedKeys(record);
  return keys && { current, ...keys };
}

export function createLockActivities(deps: ActivityDeps) {
  const { kube, inventory } = deps;
  const records = () => pendingRecords(inventory);
  const { authenticates, lasting, revoke } = createIamWrites(deps);
  const rootAdmin = async () => {
    const s = await readSecret(kube, inventory.store.rootSecret.namespace, inventory.store.rootSecret.name);
    const accessKey = s?.data[KEYS.accessKey];
    const secretKey = s?.data[KEYS.secretKey];
    if (!accessKey || !secretKey)
      throw nonRetryable('the root Secret holds no credential', 'CredentialMissing');
    return iamAdmin(deps, { accessKey, secretKey });
  };

  const readCurrent = async (ref: { namespace: string; name: string }): Promise<Credentials> => {
    const s = await readSecret(kube, ref.namespace, ref.name);
    const accessKey = s?.data[KEYS.accessKey];
    const secretKey = s?.data[KEYS.secretKey];
    if (!accessKey || !secretKey)
      throw nonRetryable(
        `Secret ${ref.namespace}/${ref.name} holds no credential (access-key/secret-key): run BootstrapCluster first`,
        'CredentialMissing',
      );
    return { accessKey, secretKey };
  };

  const recordChange = (
    owner: LockOwner,
    fresh: Credentials,
    current: Credentials,
    endpoint: string,
    strategy: string,
  ): SecretChange => ({
    data: {
      [KEYS.accessKey]: fresh.accessKey,
      [KEYS.secretKey]: fresh.secretKey,
      [KEYS.endpoint]: endpoint,
      [KEYS.previousAccessKey]: current.accessKey,
      [KEYS.previousSecretKey]: current.secretKey,
    },
    annotations: {
      ...rotationAnnotations({
        at: new Date(),
        workflowId: owner.workflowId,
        fingerprint: fingerprint(fresh.secretKey),
      }),
      ...ownerAnnotations(owner),
      [OWNER_ANNOTATIONS.strategy]: strategy,
    },
    labels: { 'app.kubernetes.io/managed-by': 'rustfs-rotator' },
  });

  /** Who holds a record, the Temporal namespace included: a run is only found in its own. */
  const ownerAnnotations = (owner: LockOwner) => ({
    [OWNER_ANNOTATIONS.runId]: owner.runId,
    [OWNER_ANNOTATIONS.workflowType]: owner.workflowType,
    [OWNER_ANNOTATIONS.temporalNamespace]: deps.temporal.namespace,
  });

  /**
   * BootstrapCluster's hold on a zone: a pending record that names the run and holds no key.
   * Left behind by a terminated bootstrap it is what reconciling finds as "held no keys" and
   * replaces; nothing reads it as a half-done rotation.
   */
  const holdChange = (owner: LockOwner): SecretChange => ({
    data: {},
    annotations: {
      [OWNER_ANNOTATIONS.workflowId]: owner.workflowId,
      [ROTATION_ANNOTATIONS.rotatedAt]: new Date().toISOString(),
      ...ownerAnnotations(owner),
      [OWNER_ANNOTATIONS.strategy]: 'bootstrap',
    },
    labels: { 'app.kubernetes.io/managed-by': 'rustfs-rotator' },
  });

  const refOf = (record: { data: Record<string, string | undefined> }): PendingRef => ({
    accessKey: record.data[KEYS.accessKey]!,
    fingerprint: fingerprint(record.data[KEYS.secretKey]!),
    previousAccessKey: record.data[KEYS.previousAccessKey]!,
    previousFingerprint: fingerprint(record.data[KEYS.previousSecretKey]!),
  });

  /**
   * Running pods that may hold what the Secret held before its last write: started before
   * it (whole seconds, as RotateZone's grace wait counts) and not restarted since. A restart
   * stamped with the write's own instant counts as since: RotateZone's restore writes the
   * Secret and then restarts the consumers with that instant.
   */
  const podsFromBefore = async (zone: Zone, secret: SecretData | null): Promise<string[]> => {
    const writtenMs = Date.parse(secret?.annotations[ROTATION_ANNOTATIONS.rotatedAt] ?? '');
    if (Number.isNaN(writtenMs)) return [];
    const pods = await podsReferencingSecret(kube, zone.secret.namespace, zone.secret.name, {
      startedBefore: new Date(Math.floor(writtenMs / 1000) * 1000 + 1000),
      restartedAfter: new Date(writtenMs - 1),
      runningOnly: true,
    });
    return pods.map((p) => `${p.name}${p.owner ? ` (${p.owner})` : ''}`);
  };

  const blocked = (message: string) => nonRetryable(message, 'ReconcileBlocked');

  /**
   * A zone record of a closed run: bring store and Secret to one consistent state, revoking
   * the key the Secret no longer holds. Returns what was found and done; throws
   * ReconcileBlocked when doing it now could cut off a consumer.
   */
  const reconcileZone = async (zone: Zone, record: SecretData, closed: RunState): Promise<string> => {
    const secretRef = `${zone.secret.namespace}/${zone.secret.name}`;
    const secret = await readSecret(kube, zone.secret.namespace, zone.secret.name);
    const current = await readCurrent(zone.secret);
    const who = `${describeRunRef(closed)} (${closed.status})`;
    const keys = keysOf(record, current);
    if (!keys) return `record of ${who} held no keys: replaced`;
    const promoted = same(keys.current, keys.pending);
    if (!promoted && !same(keys.current, keys.previous)) {
      throw blocked(
        `zone ${zone.name}: the pending record of ${who} holds new ${show(keys.pending)} and previous ${show(keys.previous)}, ` +
          `but Secret ${secretRef} holds ${show(keys.current)}, neither of them. Something else changed the Secret; ` +
          `check which key the consumers use, then delete Secret ${zone.secret.namespace}/${pendingName(zone.secret.name)} and start RotateZone again`,
      );
    }
    const superseded = promoted ? keys.previous : keys.pending;
    // The previous key reached every pod started before the promotion; the new key reached
    // pods only if the Secret ever held it: the closed run wrote the Secret (promoted, then
    // restored it). Counted conservatively: any write of the Secret by that workflow ID.
    const mayBeHeld = promoted || secret?.annotations[ROTATION_ANNOTATIONS.workflowId] === closed.workflowId;
    const admin = await rootAdmin();
    const done: string[] = [
      `found the record of ${who}: Secret ${secretRef} holds its ${promoted ? 'new' : 'previous'} key ${show(keys.current)}`,
    ];
    if (current.accessKey === zone.user) {
      // In place: the user has one secret. If it is not what the Secret holds, consumers are
      // failing right now. Putting the store back to the Secret's key is the safer repair:
      // one store call heals every consumer at once, no restart, nothing left half-promoted;
      // promoting instead would keep the outage until every consumer rolled.
      if (await authenticates(current)) done.push(`store accepts it for user ${zone.user}`);
      else {
        await lasting(
          admin,
          `the secret of user ${zone.user} the Secret holds`,
          async () => {
            await admin.addUser(zone.user, current.secretKey);
            return 'user secret put back';
          },
          () => authenticates(current),
        );
        done.push(
          `store did NOT accept it (user ${zone.user} had ${(await authenticates(superseded)) ? `the ${promoted ? 'previous' : 'new'} secret` : 'an unknown secret'}: an outage) → user secret put back to what the Secret holds`,
        );
      }
      if (superseded.accessKey !== zone.user)
        done.push(...(await revokeAccount(zone, superseded, mayBeHeld, secret)));
      return done.join('; ');
    }
    if (superseded.accessKey === zone.user) {
      // The zone moved off (or back onto) the user's own key: nobody holds it now.
      done.push(
        await revoke(
          admin,
          zone.user,
          superseded,
          `the scrambling of user ${zone.user}'s secret`,
          `secret of user ${zone.user} replaced by an unknown one`,
        ),
      );
      return done.join('; ');
    }
    done.push(...(await revokeAccount(zone, superseded, mayBeHeld, secret)));
    return done.join('; ');
  };

  /** Deletes a superseded service account, unless a running pod may still hold it. */
  const revokeAccount = async (
    zone: Zone,
    key: Credentials,
    mayBeHeld: boolean,
    secret: SecretData | null,
  ): Promise<string[]> => {
    const admin = await rootAdmin();
    const holders = mayBeHeld ? await podsFromBefore(zone, secret) : [];
    if (holders.length) {
      throw blocked(
        `zone ${zone.name}: the superseded key ${show(key)} may still be held by running pods started before Secret ` +
          `${zone.secret.namespace}/${zone.secret.name} last changed: ${holders.slice(0, 5).join(', ')}${holders.length > 5 ? ', …' : ''}. ` +
          `Revoking it now would cut them off: let them finish or restart them, then start RotateZone again`,
      );
    }
    const exists = (await admin.listServiceAccounts(zone.user)).some((a) => a.accessKey === key.accessKey);
    if (!exists) return [`superseded key ${show(key)} is not in the store`];
    return [
      await revoke(
        admin,
        zone.user,
        key,
        `the revocation of ${show(key)}`,
        `superseded service account ${show(key)} revoked`,
      ),
    ];
  };

  /**
   * A root record of a closed RotateRoot: the store is the authority on which root it runs
   * with; the root Secret is made to say the same, so the next restart does not switch it.
   */
  const reconcileRoot = async (record: SecretData, closed: RunState): Promise<string> => {
    const ref = inventory.store.rootSecret;
    const current = await readCurrent(ref);
    const who = `${describeRunRef(closed)} (${closed.status})`;
    const keys = keysOf(record, current);
    if (!keys) return `record of ${who} held no keys: replaced`;
    const rollout = rolloutStatus(await readWorkload(kube, inventory.store.workload), 'StatefulSet');
    if (!rollout.done)
      throw blocked(
        `the root record of ${who} remains and the store is still rolling out (${rollout.message}): wait for it, then start RotateRoot again`,
      );
    const accepts = async (c: Credentials) => {
      try {
        await deps.admin(c).serverInfo();
        return true;
      } catch (err) {
        if (isAdminError(err, 'AuthenticationFailed') || isAdminError(err, 'AccessDenied')) return false;
        throw err;
      }
    };
    const holds = same(current, keys.pending) ? 'new' : same(current, keys.previous) ? 'previous' : 'another';
    if (await accepts(current))
      return `found the record of ${who}: the root Secret holds its ${holds} root ${fingerprint(current.secretKey)} and the store runs with it`;
    const other = [keys.pending, keys.previous].find((c) => !same(c, current));
    if (other && (await accepts(other))) {
      await updateSecret(kube, ref.namespace, ref.name, (s) => ({
        data: { ...(s?.data ?? {}), [KEYS.accessKey]: other.accessKey, [KEYS.secretKey]: other.secretKey },
        annotations: rotationAnnotations({
          at: new Date(),
          workflowId: closed.workflowId,
          fingerprint: fingerprint(other.secretKey),
        }),
      }));
      return `found the record of ${who}: the root Secret held ${fingerprint(current.secretKey)} but the store runs with ${fingerprint(other.secretKey)} → root Secret set to what the store runs with`;
    }
    throw blocked(
      `the root record of ${who} remains and the store accepts neither the root Secret's key nor the record's keys: ` +
        `repair the store's root by hand (rotator audit shows the keys' fingerprints), then start RotateRoot again`,
    );
  };

  /**
   * Takes a pending record as the lock: create it (atomic), or find it — own (a retry),
   * another open run's (refuse), a closed run's (reconcile, then replace it, still atomic
   * on resourceVersion). `crossCheck` runs once the lock is held and releases it on refusal.
   */
  const take = async (
    where: { namespace: string; name: string; label: string; secret: { namespace: string; name: string } },
    what: string,
    owner: LockOwner,
    make: (current: Credentials) => Credentials,
    strategy: string,
    reconcile: (record: SecretData, closed: RunState) => Promise<string>,
    crossCheck: () => Promise<string | undefined>,
  ): Promise<LockResult> => {
    for (let attempt = 1; attempt <= MAX_LOCK_ATTEMPTS; attempt++) {
      const current = await readCurrent(where.secret);
      const secret = await readSecret(kube, where.secret.namespace, where.secret.name);
      const endpoint = secret?.data[KEYS.endpoint] ?? inventory.store.endpoint;
      const existing = await readSecret(kube, where.namespace, where.name);
      let found = 'no pending record: lock taken';
      let change: SecretChange;
      if (!existing) {
        change = recordChange(owner, make(current), current, endpoint, strategy);
        const created = await createSecretIfAbsent(kube, where.namespace, where.name, change);
        if (!created.created) continue;
      } else {
        const holder = recordOwner(existing);
        if (holder?.runId === owner.runId && keysOf(existing, current))
          return { ...refOf(existing), found: 'own pending record (retried step)' };
        const state = holder ? await runState(deps.temporal.client, holder) : undefined;
        if (state?.open) throw conflictingRotation(what, state);
        found = state
          ? await reconcile(existing, state)
          : `record ${where.label} named no run: replaced (${await reconcile(existing, NO_RUN)})`;
        const fresh = await readCurrent(where.secret);
        change = recordChange(owner, make(fresh), fresh, endpoint, strategy);
        if (
          !(await replaceSecretIfUnchanged(
            kube,
            where.namespace,
            where.name,
            existing.resourceVersion,
            change,
          ))
        )
          continue;
      }
      try {
        const note = await crossCheck();
        if (note) found = `${found}; ${note}`;
      } catch (err) {
        const mine = await readSecret(kube, where.namespace, where.name);
        if (mine && recordOwner(mine)?.runId === owner.runId)
          await deleteSecret(kube, where.namespace, where.name, { resourceVersion: mine.resourceVersion });
        throw err;
      }
      return { ...refOf(change), found };
    }
    throw nonRetryable(
      `${what}: the pending record ${where.label} kept changing under ${MAX_LOCK_ATTEMPTS} attempts to take it; another run is taking it too`,
      'ConflictingRotation',
    );
  };

  const releaseHold = async (where: { namespace: string; name: string }, owner: LockOwner) => {
    const record = await readSecret(kube, where.namespace, where.name);
    if (!record || recordOwner(record)?.runId !== owner.runId) return 'no hold of this run';
    if (recordedKeys(record))
      throw nonRetryable(
        `the pending record ${where.namespace}/${where.name} of this run holds keys: it is not a bootstrap hold, so it is kept`,
        'ConflictingRotation',
      );
    await deleteSecret(kube, where.namespace, where.name, { resourceVersion: record.resourceVersion });
    return 'released';
  };

  /** An open run's record at `where`, if any, and a note about a closed run's leftover. */
  const openHolder = async (where: { namespace: string; name: string }) => {
    const record = await readSecret(kube, where.namespace, where.name);
    const holder = record && recordOwner(record);
    if (!holder) return { state: undefined, leftover: !!record };
    const state = await runState(deps.temporal.client, holder);
    return { state: state.open ? state : undefined, leftover: !state.open, closed: state };
  };

  return {
    /**
     * RotateZone's lock, taken before the store changes: the zone's pending record with the
     * new credential (and the previous one), owned by the calling run. Refuses while another
     * open run holds the zone or the root.
     */
    async lockZonePending(
      zoneName: string,
      opts: { owner: LockOwner; strategy: 'overlap' | 'in-place' },
    ): Promise<LockResult> {
      const zone = findZone(inventory, zoneName);
      const where = records().zones.find((z) => z.zone === zone.name)!;
      return take(
        where,
        `zone ${zone.name}`,
        opts.owner,
        // in-place keeps the seed's contract: the access key is the user name.
        () =>
          opts.strategy === 'in-place'
            ? { accessKey: zone.user, secretKey: generateCredentials().secretKey }
            : generateCredentials(),
        opts.strategy,
        (record, closed) => reconcileZone(zone, record, closed),
        async () => {
          // Created first, checked second (and RotateRoot does the same the other way round):
          // of a zone and a root run racing, at least one sees the other and refuses.
          const root = await openHolder(records().root);
          if (root.state)
            throw conflictingRotation(
              `zone ${zone.name} (the root rotation excludes every zone)`,
              root.state,
            );
          return root.leftover
            ? `a root record of a closed run remains (rotator start RotateRoot reconciles it)`
            : undefined;
        },
      );
    },

    /** RotateRoot's lock: the root's pending record; refuses while any zone is held by an open run. */
    async lockRootPending(opts: { owner: LockOwner }): Promise<LockResult> {
      const where = records().root;
      return take(
        where,
        'the root',
        opts.owner,
        (current) => ({ accessKey: current.accessKey, secretKey: generateCredentials().secretKey }),
        'root',
        reconcileRoot,
        async () => {
          for (const z of records().zones) {
            const held = await openHolder(z);
            if (held.state)
              throw conflictingRotation(`the root (zone ${z.zone} is being rotated)`, held.state);
          }
          return undefined;
        },
      );
    },

    /**
     * BootstrapCluster's hold on a zone while it re-ensures it, so a RotateZone starting
     * meanwhile is refused instead of racing the re-ensure (which could write an old secret
     * over an in-place rotation or re-create a revoked account). Returns the open run that
     * holds the zone or the root instead, if any (the zone is then left to it); a closed
     * run's record is reconciled first, as RotateZone's lock does. Released by releaseZone.
     */
    async holdZone(zoneName: string, opts: { owner: LockOwner }): Promise<ZoneHold> {
      const zone = findZone(inventory, zoneName);
      const where = records().zones.find((z) => z.zone === zone.name)!;
      for (let attempt = 1; attempt <= MAX_LOCK_ATTEMPTS; attempt++) {
        const existing = await readSecret(kube, where.namespace, where.name);
        let found = 'zone held';
        if (!existing) {
          if (
            !(await createSecretIfAbsent(kube, where.namespace, where.name, holdChange(opts.owner))).created
          )
            continue;
        } else {
          const holder = recordOwner(existing);
          if (holder?.runId === opts.owner.runId) return { found: 'own hold (retried step)' };
          const state = holder ? await runState(deps.temporal.client, holder) : NO_RUN;
          if (state.open) return { heldBy: state, found: `held by ${describeRunRef(state)}: left to it` };
          found = `zone held; ${
            recordedKeys(existing)
              ? await reconcileZone(zone, existing, state)
              : `record of ${describeRunRef(state)} (${state.status}) held no keys: replaced`
          }`;
          if (
            !(await replaceSecretIfUnchanged(
              kube,
              where.namespace,
              where.name,
              existing.resourceVersion,
              holdChange(opts.owner),
            ))
          )
            continue;
        }
        // Created first, checked second, as RotateZone's lock: of a bootstrap and a root
        // rotation racing, at least one sees the other.
        const root = await openHolder(records().root);
        if (root.state) {
          await releaseHold(where, opts.owner);
          return {
            heldBy: root.state,
            found: `the root is held by ${describeRunRef(root.state)}: left to it`,
          };
        }
        return { found };
      }
      throw nonRetryable(
        `zone ${zone.name}: the pending record ${where.label} kept changing under ${MAX_LOCK_ATTEMPTS} attempts to hold it; another run is taking it too`,
        'ConflictingRotation',
      );
    },

    /** Ends BootstrapCluster's hold: deletes the zone's record if it is still this run's keyless hold. */
    async releaseZone(zoneName: string, opts: { owner: LockOwner }): Promise<string> {
      const zone = findZone(inventory, zoneName);
      return releaseHold(
        records().zones.find((z) => z.zone === zone.name)!,
        opts.owner,
      );
    },

    /**
     * BootstrapCluster's check before it touches a zone (run-locks era): the open run holding it, if any.
     * Bootstrap only re-ensures what the zone Secret holds, so it checks rather than locks:
     * it issues no key, so there would be nothing to record, and it must not leave a record
     * that looks like a half-done rotation if it is terminated.
     */
    async zoneHolder(zoneName: string): Promise<RunState | undefined> {
      const zone = findZone(inventory, zoneName);
      const where = records().zones.find((z) => z.zone === zone.name)!;
      return (await openHolder(where)).state;
    },
  };
}

export type LockActivities = ReturnType<typeof createLockActivities>;
