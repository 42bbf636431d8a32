// Which RotationDecisions let an update through (src/approvals/decisions.ts): the run's own,
// for its target, each answering once; approval by someone other than the requester, or by
// two different identities when the run has no authenticated requester.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decisionsOfRun,
  judgeDecision,
  type Decision,
  type DecisionWanted,
} from '../../src/approvals/decisions';

const RUN = { workflowId: 'rotate-root', runId: 'run-1', target: 'root' };
let n = 0;
const d = (action: Decision['action'], user: string, extra: Partial<Decision> = {}): Decision => ({
  ...RUN,
  name: `${action}-${++n}`,
  action,
  user,
  createdAt: `2026-12-06T23:00:${String(n).padStart(2, '0')}Z`,
  ...extra,
});
const approve: DecisionWanted = { ...RUN, action: 'approve' };
const strict = { allowSelfApproval: false, used: [] };

describe('judgeDecision', () => {
  it('refuses when no decision exists, naming the run and how to create one', () => {
    const v = judgeDecision([], approve, strict);
    assert.equal(v.ok, false);
    assert.match(
      !v.ok ? v.message : '',
      /^no approve by an authorized identity exists for run run-1 of rotate-root: create one with `rotator approve rotate-root` using your Kubernetes credentials \(a RotationDecision that needs the verb approve on rotations\/root\)$/,
    );
  });

  it('a run takes only its own decisions (decisionsOfRun), for its target and the action asked', () => {
    const others = [
      d('approve', 'bob', { runId: 'run-0' }),
      d('approve', 'bob', { workflowId: 'rotate-root-2' }),
    ];
    assert.deepEqual(
      decisionsOfRun([...others, d('request', 'alice')], RUN).map((x) => x.action),
      ['request'],
    );
    const decisions = [
      d('request', 'alice'),
      d('approve', 'bob', { target: 'zone-ingest' }),
      d('resume', 'bob'),
    ];
    assert.equal(judgeDecision(decisions, approve, strict).ok, false);
  });

  it("refuses the requester's own approval, and accepts another identity's", () => {
    const own = [d('request', 'alice'), d('approve', 'alice')];
    const v = judgeDecision(own, approve, strict);
    assert.equal(v.ok, false);
    assert.match(!v.ok ? v.message : '', /alice requested run run-1 of rotate-root and may not approve it/);
    assert.match(!v.ok ? v.message : '', /approvals\.allowSelfApproval is false/);

    const bob = d('approve', 'bob');
    assert.deepEqual(judgeDecision([...own, bob], approve, strict), {
      ok: true,
      users: ['bob'],
      decisions: [bob.name],
      starter: 'alice',
      selfApproved: false,
    });
  });

  it('accepts self-approval only where the inventory allows it, recorded as such', () => {
    const own = [d('request', 'alice'), d('approve', 'alice')];
    const v = judgeDecision(own, approve, { allowSelfApproval: true, used: [] });
    assert.equal(v.ok && v.selfApproved, true);
    assert.deepEqual(v.ok && v.users, ['alice']);
  });

  it('without an authenticated requester, needs two different identities', () => {
    const one = [d('approve', 'bob'), d('approve', 'bob')];
    const v = judgeDecision(one, approve, strict);
    assert.equal(v.ok, false);
    assert.match(
      !v.ok ? v.message : '',
      /no authenticated requester .* two different authorized identities, and so far only bob approved/,
    );
    const two = [...one, d('approve', 'carol')];
    const w = judgeDecision(two, approve, strict);
    assert.deepEqual(w.ok && w.users, ['bob', 'carol']);
    assert.equal(w.ok && w.starter, undefined);
  });

  it('takes each decision once: a resume for the first pause does not answer the second', () => {
    const resume = d('resume', 'bob');
    const want: DecisionWanted = { ...RUN, action: 'resume' };
    const first = judgeDecision([resume], want, strict);
    assert.deepEqual(first.ok && first.decisions, [resume.name]);
    assert.equal(judgeDecision([resume], want, { allowSelfApproval: false, used: [resume.name] }).ok, false);
  });
});
