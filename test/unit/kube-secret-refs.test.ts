import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1PodSpec } from '@kubernetes/client-node';
import { allSecretReferences, referencesSecret, secretReferences } from '../../src/kube/secret-refs';

const SECRET = 'rustfs-serving-reader';

describe('secretReferences on pod templates', () => {
  test('env valueFrom.secretKeyRef, in containers and init containers', () => {
    const spec: V1PodSpec = {
      initContainers: [
        {
          name: 'wait',
          env: [{ name: 'AK', valueFrom: { secretKeyRef: { name: SECRET, key: 'access-key' } } }],
        },
      ],
      containers: [
        {
          name: 'app',
          env: [
            { name: 'PLAIN', value: SECRET },
            { name: 'SK', valueFrom: { secretKeyRef: { name: SECRET, key: 'secret-key' } } },
            { name: 'OTHER', valueFrom: { secretKeyRef: { name: 'another-secret', key: 'secret-key' } } },
            { name: 'CM', valueFrom: { configMapKeyRef: { name: SECRET, key: 'secret-key' } } },
          ],
        },
      ],
    };
    assert.deepEqual(secretReferences(spec, SECRET), ['env:wait/AK', 'env:app/SK']);
  });

  test('envFrom.secretRef, but not envFrom.configMapRef of the same name', () => {
    const spec: V1PodSpec = {
      containers: [
        { name: 'a', envFrom: [{ configMapRef: { name: SECRET } }] },
        { name: 'b', envFrom: [{ prefix: 'S3_', secretRef: { name: SECRET } }] },
      ],
    };
    assert.deepEqual(secretReferences(spec, SECRET), ['envFrom:b']);
  });

  test('secret volumes and projected sources, not configMap volumes', () => {
    const spec: V1PodSpec = {
      containers: [{ name: 'app' }],
      volumes: [
        { name: 'creds', secret: { secretName: SECRET } },
        { name: 'cm', configMap: { name: SECRET } },
        {
          name: 'bundle',
          projected: {
            sources: [
              { configMap: { name: 'x' } },
              { secret: { name: SECRET } },
              { secret: { name: SECRET } },
            ],
          },
        },
        { name: 'other', projected: { sources: [{ secret: { name: 'another-secret' } }] } },
      ],
    };
    assert.deepEqual(secretReferences(spec, SECRET), ['volume:creds', 'projected:bundle']);
  });

  test('imagePullSecrets and unrelated templates are not consumers', () => {
    const spec: V1PodSpec = {
      containers: [{ name: 'app', image: 'x' }],
      imagePullSecrets: [{ name: SECRET }],
    };
    assert.equal(referencesSecret(spec, SECRET), false);
    assert.equal(referencesSecret(undefined, SECRET), false);
  });

  test('ephemeral containers of a running pod count', () => {
    const spec: V1PodSpec = {
      containers: [{ name: 'app' }],
      ephemeralContainers: [{ name: 'debug', envFrom: [{ secretRef: { name: SECRET } }] }],
    };
    assert.deepEqual(secretReferences(spec, SECRET), ['envFrom:debug']);
  });
});

describe('allSecretReferences', () => {
  test('every Secret a pod spec reads, each place once, imagePullSecrets left out', () => {
    const spec: V1PodSpec = {
      imagePullSecrets: [{ name: 'registry' }],
      containers: [
        {
          name: 'app',
          env: [
            { name: 'AK', valueFrom: { secretKeyRef: { name: 'a', key: 'access-key' } } },
            { name: 'CM', valueFrom: { configMapKeyRef: { name: 'b', key: 'x' } } },
          ],
          envFrom: [{ secretRef: { name: 'b' } }, { configMapRef: { name: 'c' } }],
        },
      ],
      volumes: [
        { name: 'creds', secret: { secretName: 'c' } },
        {
          name: 'bundle',
          projected: {
            sources: [{ secret: { name: 'a' } }, { secret: { name: 'a' } }, { secret: { name: 'd' } }],
          },
        },
      ],
    };
    assert.deepEqual(allSecretReferences(spec), [
      { secret: 'a', via: 'env:app/AK' },
      { secret: 'b', via: 'envFrom:app' },
      { secret: 'c', via: 'volume:creds' },
      { secret: 'a', via: 'projected:bundle' },
      { secret: 'd', via: 'projected:bundle' },
    ]);
    assert.deepEqual(secretReferences(spec, 'a'), ['env:app/AK', 'projected:bundle']);
    assert.deepEqual(allSecretReferences(undefined), []);
  });
});
