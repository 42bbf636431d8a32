// The decisions a run waits for (approve, resume, rollback, revoke-now), authorized by the
// Kubernetes apiserver: a person creates a RotationDecision with their own credentials, the
// admission policy (src/approvals/render.ts) admits it only when spec.user is the identity the
// apiserver authenticated and that identity holds the action's verb on the `rotations`
// resource, and the run reads it before it acts (docs/design.md "Who may decide"). Pure, so
// the workflows, the worker, the CLI and the policy renderer share one set of names and rules.

export const DECISION_GROUP = 'rotator.dev';
export const DECISION_VERSION = 'v1';
export const DECISION_KIND = 'RotationDecision';
export const DECISION_PLURAL = 'rotationdecisions';
/** The resource an approver's RBAC grants verbs on (it is never stored: like cert-manager's `signers`). */
export const AUTHORITY_RESOURCE = 'rotations';

export const DECISION_ACTIONS = ['request', 'approve', 'resume', 'rollback', 'revoke-now'] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];

/** The RBAC verb on `rotations` each action needs. */
export const ACTION_VERBS: Record<DecisionAction, string> = {
  request: 'request',
  approve: 'approve',
  resume: 'resume',
  rollback: 'rollback',
  'revoke-now': 'revoke',
};

/** The `rotations` name a decision is about: the root, or one zone. */
export const ROOT_TARGET = 'root';
export const zoneTarget = (zone: string): string => `zone-${zone}`;

/** A RotationDecision as the worker reads it (no secret: names, the action and a reason). */
export interface Decision {
  /** metadata.name */
  name: string;
  workflowId: string;
  /** The run's first run ID (the same across continue-as-new). */
  runId: string;
  action: DecisionAction;
  target: string;
  /** The identity the apiserver authenticated when it admitted the object. */
  user: string;
  reason?: string;
  createdAt: string;
}

/** A run, as its decisions name it: its workflow ID and its first run ID. */
export interface DecisionRun {
  workflowId: string;
  runId: string;
}

/**
 * The decisions that name this run. The worker's activity applies it, so a history records only
 * the run's own decisions and a replay (whose workflow ID may differ) judges the same ones.
 */
export const decisionsOfRun = (all: readonly Decision[], run: DecisionRun): Decision[] =>
  all.filter((d) => d.workflowId === run.workflowId && d.runId === run.runId);

/** What a decision must decide, about which run (its IDs name it in messages). */
export interface DecisionWanted {
  workflowId: string;
  runId: string;
  action: Exclude<DecisionAction, 'request'>;
  target: string;
}

export interface DecisionPolicy {
  /** The identity that requested a RotateRoot may approve it. */
  allowSelfApproval: boolean;
  /** Decision objects that already answered an update of this run (each answers one). */
  used: readonly string[];
}

export type Verdict =
  | {
      ok: true;
      /** The authenticated identities whose decisions this update takes (two when no starter is known). */
      users: string[];
      decisions: string[];
      /** The authenticated starter (request decision), when there is one. */
      starter?: string;
      /** The starter approved their own run (allowed by approvals.allowSelfApproval). */
      selfApproved: boolean;
    }
  | { ok: false; message: string };

/** The CLI command that creates a decision for `action`. */
export const actionCommand = (action: DecisionAction): string =>
  action === 'request' ? 'start-workflow RotateRoot' : action;

/**
 * Whether a run's decisions (decisionsOfRun) let `want` through. Approval needs someone other
 * than the run's authenticated requester, or, when the run has none (started from the Web UI, a
 * raw client, a schedule), two different authorized identities; with allowSelfApproval one suffices.
 */
export function judgeDecision(
  ofRunAll: readonly Decision[],
  want: DecisionWanted,
  policy: DecisionPolicy,
): Verdict {
  const ofRun = ofRunAll.filter((d) => d.target === want.target);
  const fresh = ofRun
    .filter((d) => d.action === want.action && !policy.used.includes(d.name))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name));
  const howTo =
    `create one with \`rotator ${actionCommand(want.action)} ${want.workflowId}\` using your Kubernetes credentials ` +
    `(a ${DECISION_KIND} that needs the verb ${ACTION_VERBS[want.action]} on ${AUTHORITY_RESOURCE}/${want.target})`;
  if (!fresh.length)
    return {
      ok: false,
      message: `no ${want.action} by an authorized identity exists for run ${want.runId} of ${want.workflowId}: ${howTo}`,
    };
  if (want.action !== 'approve') {
    const d = fresh[fresh.length - 1]!;
    return { ok: true, users: [d.user], decisions: [d.name], selfApproved: false };
  }
  const starter = ofRun.find((d) => d.action === 'request')?.user;
  const firstBy = new Map<string, Decision>();
  for (const d of fresh) if (!firstBy.has(d.user)) firstBy.set(d.user, d);
  if (starter) {
    const other = [...firstBy.values()].find((d) => d.user !== starter);
    if (other)
      return { ok: true, users: [other.user], decisions: [other.name], starter, selfApproved: false };
    if (policy.allowSelfApproval) {
      const own = firstBy.get(starter)!;
      return { ok: true, users: [own.user], decisions: [own.name], starter, selfApproved: true };
    }
    return {
      ok: false,
      message:
        `${starter} requested run ${want.runId} of ${want.workflowId} and may not approve it (separation of duties; ` +
        `the inventory's approvals.allowSelfApproval is false): another authorized identity must approve it: ${howTo}`,
    };
  }
  const approvers = [...firstBy.values()];
  const needed = policy.allowSelfApproval ? 1 : 2;
  if (approvers.length >= needed) {
    const taken = approvers.slice(0, needed);
    return {
      ok: true,
      users: taken.map((d) => d.user),
      decisions: taken.map((d) => d.name),
      selfApproved: false,
    };
  }
  return {
    ok: false,
    message:
      `run ${want.runId} of ${want.workflowId} has no authenticated requester (it was not started by \`rotator ` +
      `start-workflow RotateRoot\`): it needs approvals by two different authorized identities, and so far only ` +
      `${approvers[0]!.user} approved: ${howTo}`,
  };
}
