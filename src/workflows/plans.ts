// The plans a dry run returns (`rotator plan`, `dryRun: true`): what a run would create, patch,
// restart and revoke, and the downtime to expect, built from what the run read before it. Pure
// and deterministic, so the workflows call them and the tests check them without a run.
import type { CredentialRef } from '../activities/kubernetes';
import type { StoreIdentity } from '../activities/store';
import { formatDuration } from '../inventory/duration';
import type { InventorySnapshot } from '../inventory/lookup';
import type { WorkloadRef } from '../kube/rollout-status';
import { STORE_POLICY_NAME } from '../netpol/names';
import type { Zone } from '../inventory/schema';
import type { RootRestartPlan } from './root-restart';
import type { Plan } from './types';

/** What a root change costs the zones on a store whose IAM is sealed with the root. */
export const ZONE_REFUSAL_NOTE =
  "every zone's keys are refused until its zone is re-created from its Secret (policies first, then each zone in turn; the run's result reports the window)";

export interface RootPlanFacts {
  /** Pre-approved in the input. */
  approve: boolean;
  approvalTimeoutMs: number;
  restartTimeoutMs: number;
  pauseTimeoutMs: number;
  /** "StatefulSet/<ns>/<name>": the store's workload. */
  workloadName: string;
  identity: Pick<StoreIdentity, 'iamSurvivesRootChange' | 'kind' | 'version' | 'rootDependents' | 'topology'>;
  /** How the store's pods are restarted, for its topology (planRootRestart). */
  restart: RootRestartPlan;
}

export function rootPlan(inventory: Pick<InventorySnapshot, 'store' | 'zones'>, f: RootPlanFacts): Plan {
  const ns = inventory.store.rootSecret;
  const { identity } = f;
  return {
    workflow: 'RotateRoot',
    actions: [
      {
        action: 'wait',
        target: 'approval',
        detail: f.approve ? 'pre-approved' : `approve update, up to ${formatDuration(f.approvalTimeoutMs)}`,
      },
      {
        action: 'create',
        target: `Secret ${ns.namespace}/${ns.name}-pending`,
        detail: 'new root secret and the previous one',
      },
      {
        action: 'patch',
        target: `Secret ${ns.namespace}/${ns.name}`,
        detail: 'secret-key ← new root secret',
      },
      {
        action: 'restart',
        target: f.workloadName,
        detail:
          f.restart.strategy === 'rolling'
            ? 'one pod at a time, highest ordinal first: the pod is deleted and comes back reading the new root; each is checked (below) before the next'
            : (identity.topology?.replicas ?? 1) > 1
              ? 'every pod deleted together: the store restarts with the new root'
              : 'rollout restart: the store restarts with the new root',
      },
      {
        action: 'wait',
        target: 'store',
        detail:
          (f.restart.strategy === 'rolling'
            ? `per pod: Ready, its own node accepting the NEW root, the cluster healthy from every node for minReadySeconds, within ${formatDuration(f.restartTimeoutMs)}; then every node on the NEW root`
            : `rollout, readiness and the NEW root accepted, within ${formatDuration(f.restartTimeoutMs)}`) +
          `; else PAUSE (resume/rollback${f.restart.strategy === 'rolling' ? ', one pod at a time' : ''}; automatic rollback after ${formatDuration(f.pauseTimeoutMs)})`,
      },
      ...(identity.iamSurvivesRootChange
        ? []
        : [
            {
              action: 'create' as const,
              target: 'every zone policy',
              detail: 'IAM is lost on the root change: policies are re-created before any zone user',
            },
          ]),
      ...inventory.zones.map((z) => ({
        action: 'verify' as const,
        target: `zone ${z.name}`,
        detail:
          'users, policy and service account re-ensured from the keys its Secret holds (no consumer restart), then policy smoke',
      })),
      { action: 'delete', target: `Secret ${ns.namespace}/${ns.name}-pending`, detail: 'clean-up' },
    ],
    expectedDowntime:
      f.restart.expectedDowntime + (identity.iamSurvivesRootChange ? '' : `; then ${ZONE_REFUSAL_NOTE}`),
    notes: [
      ...topologyNotes(f),
      ...(identity.iamSurvivesRootChange
        ? []
        : [
            `${identity.kind} ${identity.version} loses IAM on root change: every zone is recreated from its Secret`,
          ]),
      ...(identity.rootDependents
        ? [identity.rootDependents.serviceAccountsEffect, identity.rootDependents.sessions]
        : []),
    ],
  };
}

/** The strategy, and what preflight read of the topology that decided it. */
function topologyNotes({ restart, identity: { topology } }: RootPlanFacts): string[] {
  if (!topology) return [];
  const { erasure, rpcSecret } = topology;
  return [
    `strategy ${restart.strategy}: ${topology.replicas} store pod${topology.replicas === 1 ? '' : 's'}`,
    rpcSecret.pinned
      ? `node-to-node secret pinned apart from the root: ${rpcSecret.via}`
      : `node-to-node secret not pinned: ${rpcSecret.reason}`,
    erasure
      ? `erasure: ${erasure.servers} servers, ${erasure.sets} set(s) of ${erasure.drivesPerSet} drives, parity ${erasure.parity}, ${erasure.drivesDown} drive(s) down; ${erasure.nodesTolerated} node(s) may be down at once`
      : 'erasure: the admin API reports no erasure layout',
    ...(restart.refused ? [`REFUSED: ${restart.refused.reason}. Fix: ${restart.refused.fix}`] : []),
  ];
}

/** What BootstrapCluster read of one zone before planning it. */
export interface ZoneFacts {
  name: string;
  secret: CredentialRef;
  identity: { userExists: boolean };
  consumers: readonly WorkloadRef[];
}

export function bootstrapPlan(
  inventory: Pick<InventorySnapshot, 'buckets' | 'zones' | 'networkPolicies' | 'store'>,
  zones: readonly ZoneFacts[],
  rotate: boolean,
): Plan {
  const actions: Plan['actions'] = [
    { action: 'create', target: `buckets ${inventory.buckets.join(', ')}`, detail: 'when missing' },
  ];
  for (const { name, secret, identity, consumers } of zones) {
    const zone = inventory.zones.find((z) => z.name === name)!;
    actions.push({
      action: identity.userExists ? 'verify' : 'create',
      target: `user ${zone.user} + policy rotator-${name}`,
      detail: identity.userExists ? 'exists; policy re-applied' : 'missing',
    });
    if (!secret.exists) {
      actions.push({
        action: 'create',
        target: `Secret ${zone.secret.namespace}/${zone.secret.name}`,
        detail: 'new credential',
      });
      for (const c of consumers)
        actions.push({
          action: 'restart',
          target: `${c.kind}/${c.namespace}/${c.name}`,
          detail: 'its Secret is new',
        });
    } else {
      actions.push({
        action: 'verify',
        target: `Secret ${zone.secret.namespace}/${zone.secret.name}`,
        detail: `${secret.accessKey} ${secret.fingerprint} re-ensured in the store${secret.endpointMatches ? '' : '; endpoint corrected'}`,
      });
      if (!secret.endpointMatches)
        for (const c of consumers)
          actions.push({
            action: 'restart',
            target: `${c.kind}/${c.namespace}/${c.name}`,
            detail: 'endpoint changed',
          });
    }
    for (const p of zone.workPools ?? [])
      actions.push({
        action: 'patch',
        target: `work pool ${p.pool} (${p.api})`,
        detail: `base job template env ← secretKeyRef ${zone.secret.name}, when missing`,
      });
    if (rotate)
      actions.push({ action: 'patch', target: `zone ${name}`, detail: `RotateZone (${zone.strategy})` });
  }
  const np = inventory.networkPolicies;
  if (np?.apply)
    actions.push({
      action: 'patch',
      target: `NetworkPolicy ${inventory.store.workload.namespace}/${STORE_POLICY_NAME}`,
      detail: `store port ${np.port} admits only the zone clients, the store and the worker (refused if it would cut off a current consumer)`,
    });
  return {
    workflow: 'BootstrapCluster',
    actions,
    expectedDowntime: 'none for existing consumers (new Secrets only reach restarted pods)',
    notes: [],
  };
}

/** How a work pool's flow runs meet a rotation: for the plan and the status. */
export function workPoolNotes(zone: Zone, strategy: 'overlap' | 'in-place'): string[] {
  const inFlight =
    strategy === 'overlap'
      ? 'runs in flight finish with the previous key, which stays valid while their pods run (the wait for pods holding the previous key counts them)'
      : 'runs in flight hold the previous key, which in-place replaces at once: they fail';
  return (zone.workPools ?? []).map(
    (p) =>
      `work pool ${p.pool} (${p.api}): each flow run starts a new pod from the base job template, which reads ${zone.secret.name} by secretKeyRef at pod admission — the next run gets the new key, nothing is restarted; ${inFlight}`,
  );
}

export function zonePlan(
  zone: Zone,
  strategy: 'overlap' | 'in-place',
  graceMs: number,
  maxGraceMs: number,
  consumers: string[],
  secret: string,
  rolloutTimeoutMs: number,
): Plan {
  const pools = workPoolNotes(zone, strategy);
  const restart = consumers.length
    ? consumers.map((c) => ({
        action: 'restart' as const,
        target: c,
        detail: 'rollout restart, then wait for rollout status',
      }))
    : [
        {
          action: 'restart' as const,
          target: '(none)',
          detail: 'no Deployment/StatefulSet/DaemonSet references the Secret',
        },
      ];
  const pending = `${zone.secret.namespace}/${zone.secret.name}-pending`;
  const common = [
    {
      action: 'create' as const,
      target: `Secret ${pending}`,
      detail: 'new credential and the previous one, recorded before the store changes',
    },
  ];
  if (strategy === 'overlap') {
    return {
      workflow: 'RotateZone',
      zone: zone.name,
      strategy,
      actions: [
        ...common,
        {
          action: 'create',
          target: `service account of ${zone.user}`,
          detail: 'holds the new key; inherits the zone policy',
        },
        { action: 'verify', target: 'new key', detail: 'policy smoke before anyone uses it' },
        { action: 'patch', target: `Secret ${secret}`, detail: 'access-key/secret-key ← new key' },
        ...restart,
        { action: 'verify', target: 'Secret key', detail: 'policy smoke with what the Secret holds' },
        {
          action: 'wait',
          target: 'previous key',
          detail: `stays valid for ${formatDuration(graceMs)} and while pods started before the switch reference the Secret, at most ${formatDuration(maxGraceMs)} (maxGrace); revokeNow ends the wait`,
        },
        {
          action: 'revoke',
          target: 'previous key',
          detail: `its service account is deleted; at maxGrace ${formatDuration(maxGraceMs)} it is deleted even if such pods still run, and the run escalates naming them (no consumer runs that long)`,
        },
        { action: 'delete', target: `Secret ${pending}`, detail: 'clean-up' },
      ],
      expectedDowntime: 'none: the previous key stays valid until every consumer uses the new one',
      notes: pools,
    };
  }
  return {
    workflow: 'RotateZone',
    zone: zone.name,
    strategy,
    actions: [
      ...common,
      {
        action: 'patch',
        target: `store user ${zone.user}`,
        detail: 'secret replaced: the previous key stops working NOW',
      },
      { action: 'verify', target: 'new key', detail: 'policy smoke' },
      {
        action: 'patch',
        target: `Secret ${secret}`,
        detail: 'secret-key ← new key (access-key stays the user name)',
      },
      ...restart,
      { action: 'verify', target: 'Secret key', detail: 'policy smoke with what the Secret holds' },
      { action: 'delete', target: `Secret ${pending}`, detail: 'clean-up' },
    ],
    expectedDowntime: consumers.length
      ? `consumers fail from the store change until their restarted pods are ready (typically the rollout time; up to ${formatDuration(rolloutTimeoutMs)} before the rotation is undone)`
      : 'clients holding the old key fail from the store change until they re-read the Secret',
    notes: [
      'in-place keeps the seed contract (access-key = user name) at the cost of a failure window; prefer overlap',
      ...pools,
    ],
  };
}
