import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1DaemonSet, V1Deployment, V1StatefulSet } from '@kubernetes/client-node';
import { restartPatch, restartedAtValue, rolloutStatus } from '../../src/kube/rollout';

// Fixtures are shaped as the apiserver returns them (defaults applied); expected lines are
// the ones kubectl prints (k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go).

function deployment(
  status: V1Deployment['status'],
  opts: { generation?: number; replicas?: number } = {},
): V1Deployment {
  return {
    kind: 'Deployment',
    metadata: { name: 'titiler', generation: opts.generation ?? 2 },
    spec: { replicas: opts.replicas ?? 3, selector: {}, template: {} },
    status,
  };
}

describe('Deployment rollout status', () => {
  test('spec change not yet observed', () => {
    const s = rolloutStatus(
      deployment({ observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
      'Deployment',
    );
    assert.deepEqual(s, { done: false, message: 'Waiting for deployment spec update to be observed...' });
  });

  test('new replicas still being created', () => {
    const s = rolloutStatus(
      deployment({ observedGeneration: 2, replicas: 4, updatedReplicas: 1, availableReplicas: 3 }),
      'Deployment',
    );
    assert.equal(s.done, false);
    assert.equal(
      s.message,
      'Waiting for deployment "titiler" rollout to finish: 1 out of 3 new replicas have been updated...',
    );
  });

  test('old replicas pending termination', () => {
    const s = rolloutStatus(
      deployment({ observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3 }),
      'Deployment',
    );
    assert.equal(
      s.message,
      'Waiting for deployment "titiler" rollout to finish: 1 old replicas are pending termination...',
    );
    assert.equal(s.done, false);
  });

  test('updated replicas not all available', () => {
    const s = rolloutStatus(
      deployment({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 2 }),
      'Deployment',
    );
    assert.equal(
      s.message,
      'Waiting for deployment "titiler" rollout to finish: 2 of 3 updated replicas are available...',
    );
    assert.equal(s.done, false);
  });

  test('complete', () => {
    const s = rolloutStatus(
      deployment({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
      'Deployment',
    );
    assert.deepEqual(s, { done: true, message: 'deployment "titiler" successfully rolled out' });
  });

  test('observedGeneration ahead of generation counts as observed (kubectl uses <=)', () => {
    const s = rolloutStatus(
      deployment(
        { observedGeneration: 5, replicas: 3, updatedReplicas: 3, availableReplicas: 3 },
        { generation: 4 },
      ),
      'Deployment',
    );
    assert.equal(s.done, true);
  });

  test('progress deadline exceeded wins over everything once observed', () => {
    const s = rolloutStatus(
      deployment({
        observedGeneration: 2,
        replicas: 4,
        updatedReplicas: 1,
        availableReplicas: 3,
        conditions: [
          { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
          { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' },
        ],
      }),
      'Deployment',
    );
    assert.deepEqual(s, {
      done: false,
      failed: true,
      message: 'deployment "titiler" exceeded its progress deadline',
    });
  });

  test('an empty status (just created) is not done', () => {
    const s = rolloutStatus(deployment(undefined, { generation: 1 }), 'Deployment');
    assert.deepEqual(s, { done: false, message: 'Waiting for deployment spec update to be observed...' });
  });

  test('zero replicas is done as soon as observed', () => {
    const s = rolloutStatus(deployment({ observedGeneration: 2 }, { replicas: 0 }), 'Deployment');
    assert.equal(s.done, true);
  });

  test('kind can come from the object', () => {
    const s = rolloutStatus({
      ...deployment({ observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
      kind: 'Deployment',
    });
    assert.equal(s.done, true);
  });
});

function statefulSet(
  status: Partial<NonNullable<V1StatefulSet['status']>>,
  opts: {
    partition?: number;
    replicas?: number;
    generation?: number;
    onDelete?: boolean;
    noRollingUpdate?: boolean;
  } = {},
): V1StatefulSet {
  return {
    kind: 'StatefulSet',
    metadata: { name: 'rustfs', generation: opts.generation ?? 2 },
    spec: {
      replicas: opts.replicas ?? 3,
      selector: {},
      serviceName: 'rustfs',
      template: {},
      updateStrategy: opts.onDelete
        ? { type: 'OnDelete' }
        : opts.noRollingUpdate
          ? { type: 'RollingUpdate' }
          : { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } },
    },
    status: { replicas: 3, ...status },
  };
}

describe('StatefulSet rollout status', () => {
  test('observedGeneration 0 is never observed', () => {
    const s = rolloutStatus(statefulSet({ observedGeneration: 0 }, { generation: 0 }), 'StatefulSet');
    assert.deepEqual(s, { done: false, message: 'Waiting for statefulset spec update to be observed...' });
  });

  test('generation ahead of observedGeneration', () => {
    const s = rolloutStatus(
      statefulSet({ observedGeneration: 1, readyReplicas: 3, updatedReplicas: 3 }),
      'StatefulSet',
    );
    assert.equal(s.message, 'Waiting for statefulset spec update to be observed...');
  });

  test('pods not ready', () => {
    const s = rolloutStatus(
      statefulSet({ observedGeneration: 2, readyReplicas: 2, updatedReplicas: 1 }),
      'StatefulSet',
    );
    assert.deepEqual(s, { done: false, message: 'Waiting for 1 pods to be ready...' });
  });

  test('all ready but not all updated (partition 0)', () => {
    const s = rolloutStatus(
      statefulSet({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 2 }),
      'StatefulSet',
    );
    assert.deepEqual(s, {
      done: false,
      message: 'Waiting for partitioned roll out to finish: 2 out of 3 new pods have been updated...',
    });
  });

  test('complete (partition 0, as the apiserver defaults it)', () => {
    const s = rolloutStatus(
      statefulSet({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 3 }),
      'StatefulSet',
    );
    assert.deepEqual(s, {
      done: true,
      message: 'partitioned roll out complete: 3 new pods have been updated...',
    });
  });

  test('partition 2: one updated pod is enough', () => {
    const s = rolloutStatus(
      statefulSet({ observedGeneration: 2, readyReplicas: 3, updatedReplicas: 1 }, { partition: 2 }),
      'StatefulSet',
    );
    assert.deepEqual(s, {
      done: true,
      message: 'partitioned roll out complete: 1 new pods have been updated...',
    });
  });

  test('without rollingUpdate: revisions decide', () => {
    const waiting = rolloutStatus(
      statefulSet(
        {
          observedGeneration: 2,
          readyReplicas: 3,
          updatedReplicas: 1,
          currentRevision: 'rustfs-a',
          updateRevision: 'rustfs-b',
        },
        { noRollingUpdate: true },
      ),
      'StatefulSet',
    );
    assert.deepEqual(waiting, {
      done: false,
      message: 'waiting for statefulset rolling update to complete 1 pods at revision rustfs-b...',
    });
    const done = rolloutStatus(
      statefulSet(
        {
          observedGeneration: 2,
          readyReplicas: 3,
          currentReplicas: 3,
          currentRevision: 'rustfs-b',
          updateRevision: 'rustfs-b',
        },
        { noRollingUpdate: true },
      ),
      'StatefulSet',
    );
    assert.deepEqual(done, {
      done: true,
      message: 'statefulset rolling update complete 3 pods at revision rustfs-b...',
    });
  });

  test('OnDelete cannot be followed', () => {
    const s = rolloutStatus(statefulSet({ observedGeneration: 2 }, { onDelete: true }), 'StatefulSet');
    assert.deepEqual(s, {
      done: false,
      failed: true,
      message: 'rollout status is only available for RollingUpdate strategy type',
    });
  });
});

function daemonSet(
  status: Partial<NonNullable<V1DaemonSet['status']>>,
  opts: { generation?: number; onDelete?: boolean } = {},
): V1DaemonSet {
  return {
    kind: 'DaemonSet',
    metadata: { name: 'agent', generation: opts.generation ?? 2 },
    spec: {
      selector: {},
      template: {},
      updateStrategy: { type: opts.onDelete ? 'OnDelete' : 'RollingUpdate' },
    },
    status: {
      currentNumberScheduled: 2,
      desiredNumberScheduled: 2,
      numberMisscheduled: 0,
      numberReady: 2,
      ...status,
    },
  };
}

describe('DaemonSet rollout status', () => {
  test('not observed', () => {
    const s = rolloutStatus(daemonSet({ observedGeneration: 1 }), 'DaemonSet');
    assert.deepEqual(s, { done: false, message: 'Waiting for daemon set spec update to be observed...' });
  });
  test('pods not updated', () => {
    const s = rolloutStatus(
      daemonSet({ observedGeneration: 2, updatedNumberScheduled: 1, numberAvailable: 2 }),
      'DaemonSet',
    );
    assert.equal(
      s.message,
      'Waiting for daemon set "agent" rollout to finish: 1 out of 2 new pods have been updated...',
    );
  });
  test('pods not available', () => {
    const s = rolloutStatus(
      daemonSet({ observedGeneration: 2, updatedNumberScheduled: 2, numberAvailable: 1 }),
      'DaemonSet',
    );
    assert.equal(
      s.message,
      'Waiting for daemon set "agent" rollout to finish: 1 of 2 updated pods are available...',
    );
  });
  test('complete', () => {
    const s = rolloutStatus(
      daemonSet({ observedGeneration: 2, updatedNumberScheduled: 2, numberAvailable: 2 }),
      'DaemonSet',
    );
    assert.deepEqual(s, { done: true, message: 'daemon set "agent" successfully rolled out' });
  });
  test('OnDelete cannot be followed', () => {
    const s = rolloutStatus(daemonSet({ observedGeneration: 2 }, { onDelete: true }), 'DaemonSet');
    assert.equal(s.failed, true);
  });
});

describe('rollout restart patch', () => {
  test('is the strategic-merge body kubectl sends, with an RFC 3339 UTC time in milliseconds (two restarts in one second must differ)', () => {
    const at = new Date('2025-03-04T05:06:07.891Z');
    assert.equal(restartedAtValue(at), '2025-03-04T05:06:07.891Z');
    assert.deepEqual(restartPatch(at), {
      spec: {
        template: {
          metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-03-04T05:06:07.891Z' } },
        },
      },
    });
  });
});
