import { Context } from '@temporalio/activity';
import { fingerprint } from '../fingerprint';
import { bucketsOf, compilePolicy, findZone, nodeEndpointOf, policyName, type Zone } from '../inventory';
import { readWorkload, rolloutStatus } from '../kube';
import {
  type AdminClient,
  type Credentials,
  type StoreCapabilities,
  generateCredentials,
  isAdminError,
  takenAccessKeyHolder,
} from '../rustfs';
import { describeRootDependents, rootServiceAccounts, type RootDependents } from '../rustfs/root-dependents';
import { erasureLayout, nodesTolerated } from '../rustfs/topology';
import { rpcSecretPinning, type StoreTopology } from './store-topology';
import { readCredential, readRoot, readZoneCredential, type CredentialSource } from './credentials';
import { type ActivityDeps } from './deps';
import { FAILURE } from '../workflows/names';
import { nonRetryable } from './failures';
import { createIamWrites } from './iam-writes';
import { bounded, iamAdmin, nodesOffRoot } from './store-nodes';
import { storePodNames } from '../workflows/root-restart';

/**
 * What preflight found the store to be, from the store's own answers (detectCapabilities):
 * `iamSurvivesRootChange` false means a root change loses every user, policy and service
 * account, which must then be recreated from their Secrets.
 */
export type StoreIdentity = StoreCapabilities & {
  /**
   * The service accounts whose parent is the root access key (access keys only) and what a
   * root rotation does to them and to sessions (src/rustfs/root-dependents.ts). Absent from
   * the results of runs recorded before preflight read them.
   */
  rootDependents?: RootDependents;
  /**
   * The store workload's replicas, whether its pods pin the node-to-node secret apart from the
   * root, and the erasure layout the admin API reports (src/activities/store-topology.ts).
   * Absent from the results of runs recorded before preflight read it.
   */
  topology?: StoreTopology;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createStoreActivities(deps: ActivityDeps) {
  const { kube, inventory } = deps;
  const { authenticates, lasting, revoke } = createIamWrites(deps);
  const zoneOf = (name: string): Zone => findZone(inventory, name);
  /** The root's admin client for IAM writes (iamAdmin: one node at a time of a multi-node store). */
  const rootAdmin = async (source: CredentialSource = 'current'): Promise<AdminClient> =>
    iamAdmin(deps, await readRoot(kube, inventory, source));

  /** Read from the workload's spec (no Secret but the root's is read) and the store's server info. */
  const readTopology = async (admin: AdminClient): Promise<StoreTopology> => {
    const workload = await readWorkload(kube, inventory.store.workload);
    const layout = erasureLayout((await admin.serverInfo()).raw);
    const replicas = (workload.spec && 'replicas' in workload.spec ? workload.spec.replicas : undefined) ?? 1;
    return {
      replicas,
      podsWithEndpoints: storePodNames(inventory.store.workload.name, replicas).filter(
        (pod) => nodeEndpointOf(inventory.store, pod) !== undefined,
      ).length,
      minReadySeconds:
        (workload.spec && 'minReadySeconds' in workload.spec ? workload.spec.minReadySeconds : undefined) ??
        0,
      ...(workload.spec && 'podManagementPolicy' in workload.spec
        ? { podManagementPolicy: workload.spec.podManagementPolicy ?? 'OrderedReady' }
        : {}),
      rpcSecret: rpcSecretPinning(workload.spec?.template.spec, inventory.store.rootSecret.name),
      ...(layout ? { erasure: { ...layout, nodesTolerated: nodesTolerated(layout) } } : {}),
    };
  };

  /** The zone user exists with its canned policy attached; its own secret is never used. */
  const ensureUser = async (admin: AdminClient, zone: Zone): Promise<boolean> => {
    let created = false;
    try {
      await admin.userInfo(zone.user);
    } catch (err) {
      if (!isAdminError(err, 'NotFound')) throw err;
      // overlap consumers authenticate as service accounts; the user's own secret is
      // random and discarded, so it can never leak or be relied upon.
      await admin.addUser(zone.user, generateCredentials().secretKey);
      created = true;
    }
    await admin.addCannedPolicy(policyName(zone), compilePolicy(zone));
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.attachPolicy(zone.user, policyName(zone));
        return created;
      } catch (err) {
        // RustFS rc.3 on a loaded machine once answered "policy does not exist" to the attach
        // right after the policy was written (an IAM reload replacing the cache meanwhile): the
        // policy is written again and attached again, twice at most.
        if (!isAdminError(err, 'NotFound') || attempt === 3) throw err;
        await sleep(1_000);
        await admin.addCannedPolicy(policyName(zone), compilePolicy(zone));
      }
    }
  };

  /** The zone user exists with the zone's canned policy attached, and the policy exists. */
  const holdsPolicy = async (admin: AdminClient, zone: Zone): Promise<boolean> => {
    try {
      await admin.infoCannedPolicy(policyName(zone));
      const attached = ((await admin.userInfo(zone.user)).policyName ?? '').split(',').map((p) => p.trim());
      return attached.includes(policyName(zone));
    } catch (err) {
      if (isAdminError(err, 'NotFound')) return false;
      throw err;
    }
  };

  /**
   * The store accepts `cred` for the zone: a service account of the zone user holding
   * exactly these keys (overlap), or the user's own secret (in-place, access key = user).
   *
   * Creating comes first: that is the common case (a new key), and it needs no read of the
   * account, whose reply MinIO seals with Argon2id. An existing key is updated only when it
   * belongs to the zone user: root may update any parent's service account, so the owner is
   * checked first, from the refusal when the store says who holds the key, else by reading it.
   */
  const ensureCredential = async (admin: AdminClient, zone: Zone, cred: Credentials): Promise<string> => {
    if (cred.accessKey === zone.user) {
      await admin.addUser(zone.user, cred.secretKey);
      await admin.attachPolicy(zone.user, policyName(zone));
      return 'user secret set';
    }
    if (inventory.store.kind === 'rustfs') await assertNotAUser(admin, zone, cred.accessKey);
    try {
      await admin.addServiceAccount({
        parentUser: zone.user,
        accessKey: cred.accessKey,
        secretKey: cred.secretKey,
        name: `rotator-${zone.name}`.slice(0, 32),
        description: `rustfs-rotator zone ${zone.name}`,
      });
      return 'service account created';
    } catch (err) {
      const holder = takenAccessKeyHolder(err);
      if (!holder) throw err;
      if (holder !== 'requested-parent') await assertOwnedByZoneUser(admin, zone, cred.accessKey, err);
    }
    try {
      await admin.updateServiceAccount(cred.accessKey, { secretKey: cred.secretKey, status: 'on' });
      return 'service account updated';
    } catch (err) {
      // RustFS alpha.99 … rc.1 (service_account.rs is_service_account_owner_of) lets only the
      // parent update an account, even against root: 403 "access denied". rc.2 lets root again.
      if (!isAdminError(err, 'AccessDenied')) throw err;
    }
    // The account is the zone user's (checked above). When it already holds these keys (a
    // re-ensure, e.g. RotateRoot on a store that kept IAM) there is nothing to change;
    // otherwise root may still delete it and create it anew with the keys.
    if (await authenticates(cred)) return 'service account already holds this credential';
    await admin.deleteServiceAccount(cred.accessKey);
    await admin.addServiceAccount({
      parentUser: zone.user,
      accessKey: cred.accessKey,
      secretKey: cred.secretKey,
      name: `rotator-${zone.name}`.slice(0, 32),
      description: `rustfs-rotator zone ${zone.name}`,
    });
    return 'service account recreated with the credential';
  };

  /**
   * RustFS (alpha.85 and beta.7, captured) accepts a user's name as a new service account's key
   * and the account replaces the user; MinIO refuses it, and so does RustFS from rc.1, in the
   * words it uses for any taken key ("access key is already in use", captured on rc.3), so the
   * refusal alone would not say a user holds it. list-users leaves service accounts out on
   * RustFS (iam manager.rs get_users; checked on rc.3), so a hit there is a user.
   */
  const assertNotAUser = async (admin: AdminClient, zone: Zone, accessKey: string): Promise<void> => {
    if (accessKey in (await admin.listUsers())) {
      throw nonRetryable(
        `access key ${accessKey} is taken by a user, not a service account of zone user "${zone.user}"`,
        'IdentityConflict',
      );
    }
  };

  const assertOwnedByZoneUser = async (
    admin: AdminClient,
    zone: Zone,
    accessKey: string,
    refusal: unknown,
  ): Promise<void> => {
    let parentUser: string;
    try {
      parentUser = (await admin.infoServiceAccount(accessKey)).parentUser;
    } catch (err) {
      // MinIO answers AccessDenied, even to root, when the key is a user's and not an account's.
      if (!isAdminError(err, 'NotFound') && !isAdminError(err, 'AccessDenied')) throw err;
      throw nonRetryable(
        `access key ${accessKey} is taken by an identity that is not a service account of zone user "${zone.user}": ${(refusal as Error).message}; ${err.message}`,
        'IdentityConflict',
      );
    }
    if (parentUser !== zone.user) {
      throw nonRetryable(
        `service account ${accessKey} belongs to "${parentUser}", not to zone user "${zone.user}"`,
        'IdentityConflict',
      );
    }
  };

  /**
   * Removes a credential until it no longer authenticates, on every node of a multi-node store:
   * a service account is deleted; the user's own secret is scrambled.
   */
  const removeCredential = (admin: AdminClient, zone: Zone, cred: Credentials): Promise<string> =>
    revoke(
      admin,
      zone.user,
      cred,
      `the removal of ${cred.accessKey}`,
      cred.accessKey === zone.user
        ? `secret of user ${zone.user} replaced by an unknown one`
        : `service account ${cred.accessKey} deleted`,
    );

  return {
    /**
     * Preflight: the root credential (current, or the pending one) works; what store is this;
     * which service accounts have the root as their parent (access keys, never secrets) and
     * what a root rotation does to them and to the sessions signed with the root secret; and
     * the store's topology (replicas, node-to-node secret, erasure layout).
     */
    async verifyRoot(source: 'current' | 'pending' | 'previous' = 'current'): Promise<StoreIdentity> {
      const rootCred = await readRoot(kube, inventory, source);
      const admin = deps.admin(rootCred);
      const caps = await admin.detectCapabilities();
      if (caps.kind !== inventory.store.kind) {
        throw nonRetryable(
          `the inventory says store.kind "${inventory.store.kind}", but ${admin.endpoint} is ${caps.kind} (${caps.detectedBy.join('; ')})`,
          'StoreKindMismatch',
        );
      }
      const accounts = await rootServiceAccounts(admin, rootCred.accessKey);
      const topology = await readTopology(admin);
      return { ...caps, rootDependents: describeRootDependents(caps, accounts), topology };
    },

    /** Every bucket the zones' policies and the smoke need. */
    async ensureBuckets(): Promise<string[]> {
      const s3 = deps.s3(await readRoot(kube, inventory));
      try {
        const buckets = bucketsOf(inventory);
        for (const b of buckets) await s3.createBucket(b);
        return buckets;
      } finally {
        s3.close();
      }
    },

    /**
     * Every zone's canned policy, before any zone user: after a root change on a store that
     * seals IAM with the root, each policy file still sealed with the old root makes the
     * store's whole IAM load fail (RustFS 1.0.0-alpha.85: `crypto: decrypt failed`).
     */
    async ensureZonePolicies(): Promise<string[]> {
      const admin = await rootAdmin();
      const names = inventory.zones.map(policyName);
      await lasting(
        admin,
        `the zone policies ${names.join(', ')}`,
        async () => {
          for (const zone of inventory.zones)
            await admin.addCannedPolicy(policyName(zone), compilePolicy(zone));
          return 'written';
        },
        async () => {
          const listed = await admin.listCannedPolicies();
          return names.every((n) => n in listed);
        },
      );
      return names;
    },

    /** The zone's canned policy and user; then the credential its Secret holds (or its pending one). */
    async ensureZoneIdentity(
      zoneName: string,
      source: 'current' | 'pending' = 'current',
    ): Promise<{ userCreated: boolean; credential: string; fingerprint: string }> {
      const zone = zoneOf(zoneName);
      const admin = await rootAdmin();
      const cred = await readZoneCredential(kube, zone, source);
      let userCreated = false;
      const credential = await lasting(
        admin,
        `zone ${zone.name}'s user, policy and credential ${cred.accessKey}`,
        async () => {
          userCreated = (await ensureUser(admin, zone)) || userCreated;
          return ensureCredential(admin, zone, cred);
        },
        async () => (await authenticates(cred)) && (await holdsPolicy(admin, zone)),
      );
      return { userCreated, credential, fingerprint: fingerprint(cred.secretKey) };
    },

    /**
     * Undo of ensureZoneIdentity('pending'): the pending credential is removed from the
     * store, or for in-place the previous secret is put back. Never touches what the zone
     * Secret currently holds.
     */
    async discardPendingIdentity(zoneName: string): Promise<string> {
      const zone = zoneOf(zoneName);
      const admin = await rootAdmin();
      const pending = await readZoneCredential(kube, zone, 'pending').catch(() => undefined);
      if (!pending) return 'no pending credential';
      const current = await readZoneCredential(kube, zone, 'current');
      if (pending.accessKey === zone.user) {
        const previous = await readZoneCredential(kube, zone, 'previous');
        return lasting(
          admin,
          `the previous secret of user ${zone.user}`,
          async () => {
            await admin.addUser(zone.user, previous.secretKey);
            return `secret of user ${zone.user} restored to ${fingerprint(previous.secretKey)}`;
          },
          () => authenticates(previous),
        );
      }
      if (pending.accessKey === current.accessKey) {
        throw nonRetryable(
          `the pending credential ${pending.accessKey} is the one Secret ${zone.secret.namespace}/${zone.secret.name} holds; restore the Secret first`,
          'CompensationOrder',
        );
      }
      return removeCredential(admin, zone, pending);
    },

    /** Step 7 of RotateZone: the credential consumers held before the promotion stops working. */
    async revokePrevious(zoneName: string): Promise<string> {
      const zone = zoneOf(zoneName);
      const previous = await readZoneCredential(kube, zone, 'previous');
      const current = await readZoneCredential(kube, zone, 'current');
      if (previous.accessKey === current.accessKey)
        return 'previous credential is the current one: nothing to revoke';
      return removeCredential(await rootAdmin(), zone, previous);
    },

    /**
     * RotateRoot step 5: the store's StatefulSet has rolled out (kubectl's rules) and the
     * store is ready and accepts the root credential the Secret now holds. Heartbeats while
     * waiting; fails with RestartWindowExceeded when `timeoutMs` passes, which the workflow
     * turns into a pause.
     */
    async waitForStoreWithRoot(opts: { timeoutMs: number; expectFingerprint: string }): Promise<string> {
      const ctx = Context.current();
      const deadline = Date.now() + opts.timeoutMs;
      let last = 'not checked yet';
      for (;;) {
        try {
          const root = await readRoot(kube, inventory);
          if (fingerprint(root.secretKey) !== opts.expectFingerprint) {
            last = `root Secret holds ${fingerprint(root.secretKey)}, expected ${opts.expectFingerprint}`;
          } else {
            const admin = deps.admin(root);
            if (!(await admin.ready())) last = 'store not ready';
            else {
              await bounded(admin.serverInfo(), 'server info');
              // One replica back with the new root is not the store back: the rest of the
              // StatefulSet may still restart under the steps that follow (and a replica the
              // controller made from the old revision is replaced once more).
              const workload = await readWorkload(kube, inventory.store.workload);
              const rollout = rolloutStatus(workload, 'StatefulSet');
              const replicas =
                (workload.spec && 'replicas' in workload.spec ? workload.spec.replicas : undefined) ?? 1;
              // Through the Service one node answered: on a store whose pods the inventory
              // names, every node must be on this root, or a rolling restart left it split.
              ctx.heartbeat(last);
              const off = rollout.done ? await nodesOffRoot(deps, root, replicas) : [];
              if (off.length)
                last = `store accepts root ${opts.expectFingerprint}, but not on ${off.join(', ')}`;
              else if (rollout.done || rollout.failed)
                return `store ready and accepting root ${opts.expectFingerprint}; ${rollout.message}`;
              else
                last = `store accepts root ${opts.expectFingerprint}, rollout not complete: ${rollout.message}`;
            }
          }
        } catch (err) {
          last = err instanceof Error ? err.message : String(err);
        }
        ctx.heartbeat(last);
        if (Date.now() >= deadline) {
          throw nonRetryable(
            `the store did not come back with root ${opts.expectFingerprint} within ${Math.round(opts.timeoutMs / 1000)}s: ${last}`,
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

    /** Read-only state of a zone's identity, for plans: does the user exist, which accounts does it have. */
    async describeZoneIdentity(
      zoneName: string,
    ): Promise<{ userExists: boolean; serviceAccounts: string[] }> {
      const zone = zoneOf(zoneName);
      const admin = await rootAdmin();
      try {
        await admin.userInfo(zone.user);
      } catch (err) {
        if (isAdminError(err, 'NotFound')) return { userExists: false, serviceAccounts: [] };
        throw err;
      }
      const accounts = await admin.listServiceAccounts(zone.user);
      return { userExists: true, serviceAccounts: accounts.map((a) => a.accessKey) };
    },

    /** Used by the smoke and the CLI: a credential from a Secret authenticates at all. */
    async credentialAuthenticates(ref: { namespace: string; name: string }): Promise<boolean> {
      return authenticates(await readCredential(kube, ref, 'current')).catch(() => false);
    },
  };
}

export type StoreActivities = ReturnType<typeof createStoreActivities>;
