// Changes to workflow code that would alter the commands of runs already in flight (and of
// the histories committed under test/replay) are gated by a patch: old runs replay the
// old sequence, new runs take the new one. A workflow asks a patch through its PatchSet
// (below), never through patched() itself (lint refuses it elsewhere).
//
// Retiring a patch (temporalio/samples-typescript `patching-api`): once no run that started
// without its marker can still be open, replace patched(X) by deprecatePatch(X) and drop the
// old branch, deploy, and once no run that started before THAT deploy is open, drop the call
// and the histories of the old era (test/replay/*.<era>.json). Runs since PATCHES_AT_START
// record no marker of the patches before it, so those retire with no deprecatePatch step:
// once no run without the PATCHES_AT_START marker is open, drop them and their old branches. "No run can be open" is checked,
// in every Temporal namespace the worker serves, with
//   temporal workflow list --query 'ExecutionStatus="Running" AND StartTime < "<deploy time>"'
// returning nothing. Each patch below says which runs keep it alive (the longest: a RotateZone
// grace wait up to its maxGrace, continued as new, and a RotateRoot awaiting approval and
// paused, up to approvalTimeout + pauseTimeout).
//
// Not every change to a command needs a patch: the summaries commands carry (summaries.ts,
// set by interceptors.ts and at each timer) are user metadata, which replay does not compare
// with the history; every committed history, recorded without them, replays with them added
// (test/replay). They were added without a patch, and changing a summary needs none.
import { patched } from '@temporalio/workflow';

/**
 * v2 of the zone runbook (RotateZone, BootstrapCluster): short steps run as local
 * activities; no timer at grace 0; no sleep to the next whole second before restarting
 * consumers (pods are told apart by their restartedAt annotation instead); a
 * `rotate: true` bootstrap leaves identity and smoke of existing zones to the RotateZone
 * children, which do both.
 *
 * Retire when: no RotateZone or BootstrapCluster started before its deploy is still open.
 */
export const ZONE_RUNBOOK_V2 = 'zone-runbook-v2';

/**
 * v2 of compensation (Runbook): an undo runs only when the undos it depends on succeeded,
 * the pending record is kept when any failed, a key is deleted only when no pod that could
 * hold it runs, and a cancel undoes the run (non-cancellable) and ends CANCELED.
 *
 * Retire when: no run of any workflow started before its deploy is still open.
 */
export const COMPENSATION_V2 = 'compensation-v2';

/**
 * Inputs are validated strictly (src/workflows/inputs.ts). A run started before that with
 * an input it now refuses has no marker and carries on with what it was given.
 *
 * Retire when: no run of any workflow started before its deploy is still open.
 */
export const STRICT_INPUTS = 'strict-inputs';

/**
 * Every duration and size in a workflow input has an upper bound, and a zone is named as the
 * inventory names zones (src/inventory/schema.ts, "Bounds"). A run started before that with
 * an input beyond a bound has no marker and carries on with what it was given. Only an input
 * that breaks nothing but bounds reaches this patch; any other problem is STRICT_INPUTS'.
 *
 * Retire when: no run of any workflow started before its deploy is still open.
 */
export const BOUNDED_INPUTS = 'bounded-inputs';

/**
 * RotateZone accepts `continued` (the grace-wait state it hands to the run it continues as
 * new) only in a run it continued as new itself (forgedContinuation in grace-wait.ts): a
 * client's start with it ends as InvalidInput before any activity. The marker is recorded only
 * by such a refused start, so genuine runs and the committed histories replay unchanged; a
 * forged run started before its deploy has no marker and replays as it ran.
 *
 * Retire when: no RotateZone started before its deploy is still open (its grace wait ends at maxGrace).
 */
export const OWN_CONTINUATION = 'own-continuation';

/**
 * RotateZone's grace wait is bounded by maxGrace (revoke and escalate at the bound) and
 * continues as new before its history grows large.
 *
 * Retire when: no RotateZone started before its deploy is still open (its grace wait ends at maxGrace).
 */
export const GRACE_BOUND = 'grace-bound';

/**
 * Runs lock their zone (or the root) by its pending record, owned by the run, whatever the
 * workflow ID; BootstrapCluster checks each zone's holder, runs its RotateZone children
 * with ABANDON and reports every zone's outcome instead of failing at the first child.
 *
 * Retire when: no run of any workflow started before its deploy is still open.
 */
export const RUN_LOCKS = 'run-locks';

/**
 * Retries sized for outages (retry-budgets.ts, run-constants.ts): every step is one attempt per
 * activity call, retried by the run with backoff within the budget of its kind (minutes before
 * the switch, hours past it, an undo until it succeeds or a person stops it), shown in the
 * status, the Web UI and the metrics while it fails, and told to people after escalateAfter. A
 * failure past the switch ends as PreviousKeyStillValid, naming the key and how to revoke it.
 * The run's waits and budgets are those of this era (run-constants.ts), whatever deploys later.
 *
 * Retire when: no run of any workflow started before its deploy is still open.
 */
export const OUTAGE_BUDGETS = 'outage-budgets';

/**
 * RotateRoot on a store whose IAM is sealed with the root (RustFS before the 1.0 beta line):
 * every zone policy is re-created before any zone user (a policy still sealed with the old
 * root fails the whole IAM load on that release), and the window in which zone keys were
 * refused is reported.
 *
 * Retire when: no RotateRoot started before its deploy is still open (approvalTimeout + pauseTimeout at most).
 */
export const IAM_REBUILD = 'iam-rebuild';

/**
 * BootstrapCluster ensures each zone's Prefect work pools inject the zone Secret through
 * secretKeyRef in their base job template (a zone without work pools makes no call).
 *
 * Retire when: no BootstrapCluster started before its deploy is still open.
 */
export const PREFECT_POOLS = 'prefect-pools';

/**
 * BootstrapCluster holds each zone while it re-ensures it (holdZone: a keyless pending record
 * naming the run; RotateZone refuses while it is there) instead of only checking it, and its
 * concurrent per-zone section calls regular activities, with every patch it depends on
 * decided once before the zones start. Local activities in concurrent branches, with a patch
 * marker between them, were recorded in an order replay did not reproduce ("recorded marker
 * 'zoneHolder' vs local activity command 'ensureWorkPools'"); regular activities are
 * scheduled in the history in the order the workflow issues them.
 *
 * Retire when: no BootstrapCluster started before its deploy is still open.
 */
export const BOOTSTRAP_HOLDS = 'bootstrap-holds';

/**
 * Runs announce what they did: Kubernetes Events on the Secrets and workloads they changed,
 * and notifications to the inventory's webhook sinks (awaiting approval, paused, escalated,
 * and how the run ended), each through the non-blocking `announce` activity.
 *
 * Retire when: no run of any workflow started before its deploy is still open.
 */
export const ANNOUNCE = 'announce';

/**
 * BootstrapCluster applies the inventory's NetworkPolicies (networkPolicies.apply: true) after
 * every zone is ensured, refusing when they would cut a current consumer off the store.
 *
 * Retire when: no BootstrapCluster started before its deploy is still open.
 */
export const NETWORK_POLICIES = 'network-policies';

/**
 * RotateRoot, past its point of no return, re-ensures every zone at once and then smokes every
 * zone at once (each zone its own step), instead of one after another: on a store whose IAM
 * reload may undo a write, each re-ensure waits out that window, and the zones stay refused
 * until theirs is done. Every zone is tried; the failure names each zone that was not.
 *
 * Retire when: no RotateRoot started before its deploy is still open (approvalTimeout + pauseTimeout at most).
 */
export const ZONES_CONCURRENTLY = 'root-zones-concurrently';

/**
 * Decisions are authorized (src/workflows/approvals.ts): approve, resume, rollback and revokeNow
 * take effect only for an identity the inventory's approvals.authority authenticated (with
 * `kubernetes`, the update's handler reads the run's RotationDecisions through an activity), the
 * requester of a RotateRoot may not approve it unless the inventory allows it, and `approve: true`
 * in the input is refused unless approvals.allowInputApproval. Each decision is recorded in the
 * status and the steps. A run started before its deploy has no marker and takes updates as before.
 *
 * Retire when: no RotateRoot or RotateZone started before its deploy is still open (RotateRoot:
 * approvalTimeout + pauseTimeout at most; RotateZone: its grace wait, up to maxGrace).
 */
export const AUTHORIZED_DECISIONS = 'authorized-decisions';

/**
 * Every patch above is decided once, in the run's first workflow task (PatchSet): a run that
 * has this marker started on code with all of them, and records no other marker. Before it,
 * a patch was asked where its branch was (the announcer at the first announcement, the undo
 * at the first compensation, the grace wait when it began); a marker recorded in a later task
 * than the one in which a replay reaches that question ("Non-deprecated patch marker
 * encountered for change announce, but there is no corresponding change command", seen
 * replaying a cancelled RotateZone whose local activities completed within one task) fails
 * the replay. Asked in the first activation, before any command, a patch cannot move.
 *
 * A patch added after this one is asked in PatchSet's constructor too, for every run (this
 * marker does not imply it), and has() answers it from what the constructor recorded.
 *
 * Retire when: no run of any workflow started before its deploy is still open; then every
 * older patch above may be retired with it (their old branches are dead code from then on).
 */
export const PATCHES_AT_START = 'patches-at-start';

/**
 * RotateRoot restarts the store by a strategy (src/workflows/root-restart.ts): `rolling` deletes
 * one store pod at a time and checks it through its own node (waitForStoreNode) before the
 * next, pausing per pod and rolling back one pod at a time; `all-at-once` on several pods
 * deletes them together instead of a rollout restart (which replaces them one at a time,
 * checking nothing). The strategy comes from the input, the inventory (store.rootStrategy), or
 * preflight. Asked in PatchSet's constructor, after PATCHES_AT_START.
 *
 * Retire when: no RotateRoot started before its deploy is still open (approvalTimeout + pauseTimeout at most).
 */
export const ROOT_STRATEGIES = 'root-strategies';

/** Patches added after PATCHES_AT_START, in the order every run asks them at its start. */
const ASKED_AT_START = [ROOT_STRATEGIES] as const;

/** The patches a workflow may ask (every constant above but PATCHES_AT_START). */
export type PatchId =
  | typeof ZONE_RUNBOOK_V2
  | typeof COMPENSATION_V2
  | typeof STRICT_INPUTS
  | typeof BOUNDED_INPUTS
  | typeof OWN_CONTINUATION
  | typeof GRACE_BOUND
  | typeof RUN_LOCKS
  | typeof OUTAGE_BUDGETS
  | typeof IAM_REBUILD
  | typeof PREFECT_POOLS
  | typeof BOOTSTRAP_HOLDS
  | typeof ANNOUNCE
  | typeof NETWORK_POLICIES
  | typeof ZONES_CONCURRENTLY
  | typeof AUTHORIZED_DECISIONS
  | (typeof ASKED_AT_START)[number];

/**
 * The patches of one run. Construct it first thing in a workflow function, before its first
 * command and its first await: a run with the PATCHES_AT_START marker has every patch, and a
 * run recorded before it asks each patch where it always did (has() is patched() then).
 */
export class PatchSet {
  private readonly all: boolean;
  private readonly later: ReadonlyMap<PatchId, boolean>;

  constructor() {
    this.all = patched(PATCHES_AT_START);
    this.later = new Map(ASKED_AT_START.map((id) => [id, patched(id)]));
  }

  has(id: PatchId): boolean {
    return this.later.get(id) ?? (this.all || patched(id));
  }
}
