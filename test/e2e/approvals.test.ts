// A real RotateRoot on the stack whose approvals Kubernetes authorizes (issue 23 point 1): the
// requester's own approval is refused and the run keeps waiting, an identity without the approve
// verb is refused by the apiserver, a permitted approver's approval is taken and shown by
// `rotator history` with the identity the apiserver authenticated, next to the name it claimed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomSuffix } from '../support/kube-fixtures';
import { SANDBOX_STATE_ENV } from '../../src/sandbox/state';
import { AesGcmCodec } from '../../src/temporal/codec';
import { approveUpdate, statusQuery } from '../../src/workflows/definitions';
import { installApprovals, type Approvals, type Person } from '../support/approvals';
import { json, runCli } from '../support/cli';
import { readSecretData } from '../support/kube';
import {
  assertNoSecretsInHistory,
  collectSecretValues,
  startRotator,
  waitPhase,
  type Rotator,
} from '../support/rotator';
import { getStack } from '../support/stack';

const stack = getStack();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-approvals-'));
const codecKey = randomBytes(32);
const ROOT = stack.store.rootSecret;
let approvals: Approvals;
let rotator: Rotator;
/** Requests the rotation (and could approve, were it not the requester). */
let alice: Person;
let bob: Person;
/** May create decisions (zone revocations), holds no approve verb on the root. */
let mallory: Person;

/** The CLI (as `who`, with their own kubeconfig) against this test's worker and inventory. */
const cli = (who: Person | undefined, ...args: string[]) =>
  runCli([...args, '--config', rotator.inventoryFile, ...(who ? ['--kubeconfig', who.kubeconfig] : [])], {
    [SANDBOX_STATE_ENV]: process.env[SANDBOX_STATE_ENV],
    TEMPORAL_TASK_QUEUE: rotator.taskQueue,
    ROTATOR_CODEC_KEY: codecKey.toString('base64'),
    ROTATOR_CODEC_KEY_ID: 'e2e-approvals',
  });

before(async () => {
  approvals = await installApprovals(stack, `e2e-approvals-${randomSuffix()}`, dir);
  alice = await approvals.person('alice', ['requester', 'approver']);
  bob = await approvals.person('bob', ['approver']);
  mallory = await approvals.person('mallory', ['revoker']);
  rotator = await startRotator(stack, {
    codec: new AesGcmCodec(new Map([['e2e-approvals', codecKey]]), 'e2e-approvals'),
    approvals: { authority: 'kubernetes', namespace: approvals.namespace },
  });
  // A root rotation re-ensures every zone from its Secret: the zones must exist.
  await rotator.client.workflow.execute('BootstrapCluster', {
    taskQueue: rotator.taskQueue,
    workflowId: 'bootstrap-cluster',
    args: [{}],
  });
});

after(async () => {
  await rotator?.client.workflow
    .getHandle('rotate-root')
    .terminate('test cleanup')
    .catch(() => undefined);
  await rotator?.close();
  await approvals?.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('RotateRoot approvals authorized by Kubernetes', () => {
  test('the requester and an identity without the verb are refused; another approver rotates the root', async () => {
    const rootBefore = await readSecretData(stack, ROOT.namespace, ROOT.name);
    const secrets = await collectSecretValues(stack);

    const started = await cli(alice, 'start-workflow', 'RotateRoot', '--json');
    assert.equal(started.code, 0, started.stderr);
    assert.equal(json(started).requestedBy, alice.user);
    const handle = rotator.client.workflow.getHandle('rotate-root');
    await waitPhase(handle, 'awaiting-approval');

    // Separation of duties: the requester's approval is admitted by Kubernetes, refused by the run.
    const own = await cli(alice, 'approve', 'rotate-root', '--reason', 'my own change');
    assert.equal(own.code, 3, own.stdout + own.stderr);
    assert.match(own.stderr, new RegExp(`${alice.user} requested run .* and may not approve it`));
    // No verb: the apiserver refuses the decision, and nothing reaches the run.
    const none = await cli(mallory, 'approve', 'rotate-root');
    assert.equal(none.code, 3, none.stdout + none.stderr);
    assert.match(none.stderr, /Kubernetes refused your approve of rotate-root/);
    assert.match(none.stderr, new RegExp(`${mallory.user} may not approve root`));
    // An update without any admitted decision of its sender (the Web UI's, a raw client's) is refused too.
    await assert.rejects(handle.executeUpdate(approveUpdate, { args: [{ by: 'web-ui' }] }), (err: Error) => {
      assert.match(String((err.cause as Error | undefined)?.message), /may not approve it/);
      return true;
    });
    const waiting = await handle.query(statusQuery);
    assert.equal(waiting.phase, 'awaiting-approval');
    assert.equal(waiting.decisions, undefined);
    assert.deepEqual(await readSecretData(stack, ROOT.namespace, ROOT.name), rootBefore, 'nothing changed');

    const approved = await cli(bob, 'approve', 'rotate-root', '--by', 'alice@laptop', '--reason', 'CHG-7');
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(
      approved.stdout,
      new RegExp(
        `root rotation approved by ${bob.user} \\(authenticated by Kubernetes; claimed: alice@laptop\\)`,
      ),
    );
    await handle.result();
    const done = await handle.query(statusQuery);
    assert.deepEqual(
      done.decisions?.map((d) => [d.action, d.authority, d.users, d.starter, d.claimedBy]),
      [['approve', 'kubernetes', [bob.user], alice.user, 'alice@laptop']],
    );
    assert.notDeepEqual(await readSecretData(stack, ROOT.namespace, ROOT.name), rootBefore, 'root rotated');

    const history = await cli(undefined, 'history', 'rotate-root');
    assert.equal(history.code, 0, history.stderr);
    assert.match(
      history.stdout,
      new RegExp(`approved by ${bob.user} \\(authenticated by Kubernetes; claimed: alice@laptop\\)`),
    );
    // The two refused approvals (the requester's, the raw update's) are there, as refused.
    assert.equal(
      history.stdout.match(/update failed\s+last failure: NotAuthorized/g)?.length,
      2,
      history.stdout,
    );

    await collectSecretValues(stack, secrets);
    await assertNoSecretsInHistory(rotator, ['rotate-root'], secrets);
  });
});
