import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStoreActivities } from '../../src/activities/store';
import { fingerprint } from '../../src/fingerprint';
import { adminKube, eventually, readSecretData } from '../support/kube';
import { startRotator, type Rotator } from '../support/rotator';
import { getStack } from '../support/stack';

const stack = getStack();
let rotator: Rotator;

const scaleStore = async (replicas: number) =>
  adminKube(stack).apps.patchNamespacedStatefulSet(
    { ...stack.store.workload, body: { spec: { replicas } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );

// RotateRoot step 5 (docs/design.md "RotateRoot"): the store is back when its StatefulSet has rolled out, not
// when the first replica answers with the new root; the zone steps that follow would
// otherwise meet replicas still restarting.
describe('waiting for the store after a root change', () => {
  before(async () => {
    rotator = await startRotator(stack);
  });
  after(async () => {
    await scaleStore(1);
    await rotator?.close();
  });

  test('a replica that accepts the root is not enough while the StatefulSet has not rolled out', async () => {
    const { namespace, name } = stack.store.rootSecret;
    const expectFingerprint = fingerprint((await readSecretData(stack, namespace, name))['secret-key']!);
    const wait = (timeoutMs: number) =>
      new MockActivityEnvironment().run(createStoreActivities(rotator.deps).waitForStoreWithRoot, {
        timeoutMs,
        expectFingerprint,
      });

    // The second replica is never made Ready (the node agent runs one store, for pod 0 only):
    // the store answers with the root all along, the rollout never completes.
    await scaleStore(2);
    await assert.rejects(wait(2500), (err: Error & { type?: string }) => {
      assert.equal(err.type, 'RestartWindowExceeded');
      assert.match(
        err.message,
        /accepts root sha256:[0-9a-f]{12}, rollout not complete: Waiting for 1 pods to be ready/,
      );
      return true;
    });

    await scaleStore(1);
    await eventually('the StatefulSet back at one ready replica', async () => {
      const sts = await adminKube(stack).apps.readNamespacedStatefulSet(stack.store.workload);
      return sts.status?.replicas === 1 && sts.status.readyReplicas === 1;
    });
    assert.match(
      String(await wait(30_000)),
      /^store ready and accepting root sha256:[0-9a-f]{12}; .*complete/,
    );
  });
});
