// deploy/approvals/ on the real apiserver of the stack: a RotationDecision is admitted only for the
// identity the apiserver authenticated, only when RBAC grants it the action's verb on the
// rotation it names, and never changed afterwards; the worker's Role (deploy/rbac) reads
// decisions and cannot create one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CustomObjectsApi, RbacAuthorizationV1Api, type V1Role } from '@kubernetes/client-node';
import { DECISION_GROUP, DECISION_PLURAL, DECISION_VERSION } from '../../src/approvals/decisions';
import { createKube, loadKubeConfig } from '../../src/kube/client';
import { createDecision, listDecisions, whoAmI, type NewDecision } from '../../src/kube/decisions';
import { KubeAdmissionDeniedError, KubeError, KubeForbiddenError } from '../../src/kube/errors';
import { randomSuffix } from '../support/kube-fixtures';
import { DEFAULT_WORKER_ACCOUNT } from '../../src/rbac/names';
import { renderRbac } from '../../src/rbac/render';
import { installApprovals, type Approvals, type Person } from '../support/approvals';
import { dashiInventory } from '../support/dashi';
import { getStack } from '../support/stack';

const stack = getStack();
const admin = createKube(loadKubeConfig({ kubeconfig: stack.kube.kubeconfig }));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kube-approvals-'));
let approvals: Approvals;
let approver: Person;
let requester: Person;
/** May create decisions, holds no verb on any rotation. */
let bystander: Person;
/** The worker, with the Role deploy/rbac/role.yaml gives it in the approvals namespace. */
let worker: Person;

const decision = (user: string, extra: Partial<NewDecision> = {}): NewDecision => ({
  workflowId: 'rotate-root',
  runId: `run-${randomSuffix()}`,
  action: 'approve',
  target: 'root',
  user,
  ...extra,
});

/** The apiserver's refusal (admission policies and bindings take a moment to reach it: retried while it admits). */
async function refused(create: () => Promise<string>, ns: string): Promise<KubeError> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const name = await create();
      await admin.kc
        .makeApiClient(CustomObjectsApi)
        .deleteNamespacedCustomObject({
          group: DECISION_GROUP,
          version: DECISION_VERSION,
          namespace: ns,
          plural: DECISION_PLURAL,
          name,
        })
        .catch(() => undefined);
    } catch (err) {
      if (err instanceof KubeError) return err;
      throw err;
    }
    assert.ok(Date.now() < deadline, 'the admission policy did not refuse within 30 s');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Retries while RBAC (just bound) has not reached the authorizer yet. */
async function admitted(create: () => Promise<string>): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await create();
    } catch (err) {
      if (!(err instanceof KubeForbiddenError) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

before(async () => {
  approvals = await installApprovals(stack, `kube-approvals-${randomSuffix()}`, dir);
  approver = await approvals.person('approver', ['approver']);
  requester = await approvals.person('requester', ['requester']);
  bystander = await approvals.person('bystander', []);
  worker = await approvals.person('worker', []);
  const rbac = admin.kc.makeApiClient(RbacAuthorizationV1Api);
  const ns = approvals.namespace;
  // Only the right to create decisions, as a person holding no approval verb would have.
  await rbac.createNamespacedRole({
    namespace: ns,
    body: {
      metadata: { name: 'create-decisions' },
      rules: [{ apiGroups: [DECISION_GROUP], resources: [DECISION_PLURAL], verbs: ['create'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'bystander' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'create-decisions' },
      subjects: [{ kind: 'ServiceAccount', name: 'bystander', namespace: ns }],
    },
  });
  // The rules deploy/rbac/role.yaml gives the worker in approvals.namespace (rotator rbac renders them).
  const rules = (
    renderRbac(dashiInventory, DEFAULT_WORKER_ACCOUNT).files['role.yaml'].find(
      (r) => r.metadata!.namespace === dashiInventory.approvals.namespace,
    ) as V1Role
  ).rules;
  assert.ok(rules?.length, 'the worker has a Role in the approvals namespace');
  await rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: 'rotator-worker' }, rules } });
  await rbac.createNamespacedRoleBinding({
    namespace: ns,
    body: {
      metadata: { name: 'rotator-worker' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rotator-worker' },
      subjects: [{ kind: 'ServiceAccount', name: 'worker', namespace: ns }],
    },
  });
});

after(async () => {
  await approvals?.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('RotationDecision admission (deploy/approvals/approvals.yaml)', () => {
  test('an approver creates an approval in its own name, and the worker reads it back with that name', async () => {
    assert.equal(await whoAmI(approver.kube), approver.user);
    const d = decision(approver.user, { reason: 'CHG-1' });
    const name = await admitted(() => createDecision(approver.kube, approvals.namespace, d));
    const read = await listDecisions(worker.kube, approvals.namespace, 'rotate-root');
    const mine = read.find((x) => x.name === name);
    assert.ok(mine, `the worker lists ${name}`);
    assert.equal(mine.user, approver.user);
    assert.equal(mine.runId, d.runId);
    assert.equal(mine.reason, 'CHG-1');
  });

  test('spec.user other than the authenticated identity is refused', async () => {
    const err = await refused(
      () => createDecision(approver.kube, approvals.namespace, decision(requester.user)),
      approvals.namespace,
    );
    assert.ok(err instanceof KubeAdmissionDeniedError, err.message);
    assert.match(
      err.message,
      new RegExp(
        `spec\\.user must be the identity the apiserver authenticated for this request \\(${approver.user}\\), not ${requester.user}`,
      ),
    );
  });

  test('an identity without the verb is refused: creating decisions is not enough', async () => {
    const err = await refused(
      () => createDecision(bystander.kube, approvals.namespace, decision(bystander.user)),
      approvals.namespace,
    );
    assert.ok(err instanceof KubeAdmissionDeniedError, err.message);
    assert.match(
      err.message,
      new RegExp(
        `${bystander.user} may not approve root: RBAC does not grant the verb approve on rotations\\.rotator\\.dev root`,
      ),
    );
  });

  test('each role holds its own verbs: a requester cannot approve, an approver cannot request or revoke', async () => {
    const ns = approvals.namespace;
    await admitted(() => createDecision(requester.kube, ns, decision(requester.user, { action: 'request' })));
    const cases = [
      { who: requester, action: 'approve', target: 'root', verb: 'approve' },
      { who: approver, action: 'request', target: 'root', verb: 'request' },
      { who: approver, action: 'revoke-now', target: 'zone-serving', verb: 'revoke' },
    ] as const;
    for (const c of cases) {
      const err = await refused(
        () => createDecision(c.who.kube, ns, decision(c.who.user, { action: c.action, target: c.target })),
        ns,
      );
      assert.match(
        err.message,
        new RegExp(`may not ${c.action} ${c.target}: RBAC does not grant the verb ${c.verb}`),
      );
    }
  });

  test('a decision is immutable, even for a cluster admin', async () => {
    const ns = approvals.namespace;
    const name = await admitted(() => createDecision(approver.kube, ns, decision(approver.user)));
    const api = admin.kc.makeApiClient(CustomObjectsApi);
    const key = {
      group: DECISION_GROUP,
      version: DECISION_VERSION,
      namespace: ns,
      plural: DECISION_PLURAL,
      name,
    };
    const obj = (await api.getNamespacedCustomObject(key)) as { spec: Record<string, string> };
    obj.spec.runId = 'another-run';
    await assert.rejects(
      api.replaceNamespacedCustomObject({ ...key, body: obj }),
      (err: { code?: number; body?: string }) => {
        assert.equal(err.code, 403);
        assert.match(String(err.body), /a RotationDecision is immutable: create a new one/);
        return true;
      },
    );
    const back = (await api.getNamespacedCustomObject(key)) as { spec: Record<string, string> };
    assert.notEqual(back.spec.runId, 'another-run');
  });

  test("the worker's Role reads decisions but cannot create one", async () => {
    await assert.rejects(
      createDecision(worker.kube, approvals.namespace, decision(worker.user)),
      (err: unknown) => {
        assert.ok(err instanceof KubeForbiddenError);
        assert.ok(!(err instanceof KubeAdmissionDeniedError), 'refused by RBAC, before admission');
        assert.match(err.message, /RBAC denied: cannot create rotationdecisions\.rotator\.dev/);
        return true;
      },
    );
  });
});
