// Which pods RotateRoot's forced rollback of the store may delete: the pure decision behind
// forceStatefulSetRollback (src/kube/rollout.ts). Labels are not ownership: only pods the
// StatefulSet controls, by UID, are ever deleted.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import { podsToForceDelete } from '../../src/kube/rollout';

const STS_UID = '6f1c2a9e-0000-4000-8000-000000000001';
const sts = (o: { uid?: string; updateRevision?: string } = {}): V1StatefulSet => ({
  kind: 'StatefulSet',
  metadata: { name: 'rustfs', namespace: 'dashi-platform', uid: 'uid' in o ? o.uid : STS_UID },
  spec: { selector: { matchLabels: { app: 'rustfs' } }, serviceName: 'rustfs', template: {} },
  status: { replicas: 1, updateRevision: 'updateRevision' in o ? o.updateRevision : 'rustfs-new' },
});

interface PodShape {
  name?: string;
  uid?: string;
  revision?: string;
  ready?: boolean;
  deleting?: boolean;
  owner?: { kind?: string; uid?: string; controller?: boolean } | null;
}
const pod = (p: PodShape = {}): V1Pod => ({
  metadata: {
    name: p.name ?? 'rustfs-0',
    uid: 'uid' in p ? p.uid : `pod-${p.name ?? 'rustfs-0'}`,
    labels: { app: 'rustfs', 'controller-revision-hash': p.revision ?? 'rustfs-old' },
    deletionTimestamp: p.deleting ? new Date() : undefined,
    ownerReferences:
      p.owner === null
        ? undefined
        : [
            {
              apiVersion: 'apps/v1',
              kind: p.owner?.kind ?? 'StatefulSet',
              name: 'rustfs',
              uid: p.owner?.uid ?? STS_UID,
              controller: p.owner?.controller ?? true,
            },
          ],
  },
  status: { conditions: [{ type: 'Ready', status: p.ready ? 'True' : 'False' }] },
});

describe('podsToForceDelete', () => {
  test('a not-Ready pod of an older revision that the StatefulSet controls is deleted, under its UID', () => {
    assert.deepEqual(podsToForceDelete(sts(), [pod()]), [{ name: 'rustfs-0', uid: 'pod-rustfs-0' }]);
  });

  test('a pod with the same labels the StatefulSet does not control is left alone', () => {
    const pods = [
      pod({ name: 'impostor', owner: null }),
      pod({ name: 'other-owner', owner: { uid: 'someone-else' } }),
      // A StatefulSet of the same name deleted and created again: a different UID.
      pod({ name: 'rustfs-1', owner: { uid: 'previous-rustfs' } }),
      pod({ name: 'not-controller', owner: { controller: false } }),
      pod({ name: 'a-replicaset-pod', owner: { kind: 'ReplicaSet' } }),
    ];
    assert.deepEqual(podsToForceDelete(sts(), pods), []);
  });

  test('Ready pods, pods of the update revision and pods already being deleted are left alone', () => {
    const pods = [
      pod({ name: 'rustfs-0', ready: true }),
      pod({ name: 'rustfs-1', revision: 'rustfs-new' }),
      pod({ name: 'rustfs-2', deleting: true }),
      pod({ name: 'rustfs-3' }),
    ];
    assert.deepEqual(
      podsToForceDelete(sts(), pods).map((p) => p.name),
      ['rustfs-3'],
    );
  });

  test('nothing without the StatefulSet UID or its update revision, nor a pod without a UID', () => {
    assert.deepEqual(podsToForceDelete(sts({ uid: undefined }), [pod()]), []);
    assert.deepEqual(podsToForceDelete(sts({ updateRevision: undefined }), [pod()]), []);
    assert.deepEqual(podsToForceDelete(sts(), [pod({ uid: undefined })]), []);
  });
});
