import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import {
  KubeAdmissionDeniedError,
  KubeConflictError,
  KubeForbiddenError,
  KubeInvalidError,
  KubeNotFoundError,
  KubeRetryableError,
  KubeUnauthorizedError,
  toKubeError,
} from '../../src/kube/errors';

const status = (code: number, reason: string, message: string, extra: object = {}) =>
  new ApiException(
    code,
    'Unknown API Status Code!',
    JSON.stringify({ kind: 'Status', reason, message, code, ...extra }),
    {},
  );

describe('toKubeError', () => {
  test('403 names the verb, resource, namespace and the user the apiserver saw', () => {
    const err = toKubeError(
      status(
        403,
        'Forbidden',
        'deployments.apps "titiler" is forbidden: User "system:serviceaccount:x:y" cannot patch resource "deployments" in API group "apps" in the namespace "dashi-serving"',
      ),
      { verb: 'patch', resource: 'deployments.apps', namespace: 'dashi-serving', name: 'titiler' },
    );
    assert.ok(err instanceof KubeForbiddenError);
    assert.equal(err.nonRetryable, true);
    assert.equal(err.name, 'KubeForbiddenError');
    assert.equal(err.user, 'system:serviceaccount:x:y');
    assert.equal(
      err.message,
      'RBAC denied: cannot patch deployments.apps "titiler" in namespace "dashi-serving" (user "system:serviceaccount:x:y")',
    );
  });

  test('403 on a collection', () => {
    const err = toKubeError(status(403, 'Forbidden', 'User "nobody" cannot list resource "pods"'), {
      verb: 'list',
      resource: 'pods',
      namespace: 'ns',
    });
    assert.equal(err.message, 'RBAC denied: cannot list pods in namespace "ns" (user "nobody")');
  });

  test('403 from a ValidatingAdmissionPolicy names the policy and its message, not RBAC', () => {
    const denial = (resource: string, name: string, message: string) =>
      status(
        403,
        'Forbidden',
        `${resource} "${name}" is forbidden: ValidatingAdmissionPolicy 'rustfs-rotator-restart-only' with binding 'rustfs-rotator-restart-only' denied request: ${message}`,
      );
    const err = toKubeError(
      denial('deployments.apps', 'titiler', 'the rotator may change only the restart annotation'),
      { verb: 'patch', resource: 'deployments.apps', namespace: 'dashi-serving', name: 'titiler' },
    );
    assert.ok(err instanceof KubeAdmissionDeniedError);
    assert.ok(err instanceof KubeForbiddenError, 'still a 403: not retried');
    assert.equal(err.nonRetryable, true);
    assert.equal(err.name, 'KubeAdmissionDeniedError');
    assert.equal(err.policy, 'rustfs-rotator-restart-only');
    assert.equal(
      err.message,
      'Admission policy rustfs-rotator-restart-only denied: cannot patch deployments.apps "titiler" in namespace "dashi-serving": the rotator may change only the restart annotation',
    );
    // A policy's message may quote the object: for Secrets only the policy is named.
    const secret = toKubeError(denial('secrets', 'other', 'value was hunter2'), {
      verb: 'create',
      resource: 'secrets',
      namespace: 'ns',
      name: 'other',
    });
    assert.ok(secret instanceof KubeAdmissionDeniedError);
    assert.equal(
      secret.message,
      'Admission policy rustfs-rotator-restart-only denied: cannot create secrets "other" in namespace "ns"',
    );
  });

  test('a watch failure carries statusCode only', () => {
    const e = Object.assign(new Error('Forbidden'), { statusCode: 403 });
    const err = toKubeError(e, {
      verb: 'watch',
      resource: 'statefulsets.apps',
      namespace: 'ns',
      name: 'rustfs',
    });
    assert.ok(err instanceof KubeForbiddenError);
    assert.equal(err.message, 'RBAC denied: cannot watch statefulsets.apps "rustfs" in namespace "ns"');
  });

  test('401, 404, 409, 422, 5xx, 429 and connection errors', () => {
    const ctx = { verb: 'get', resource: 'secrets', namespace: 'ns', name: 's' };
    assert.ok(
      toKubeError(new ApiException(401, 'Unauthorized', undefined, {}), ctx) instanceof KubeUnauthorizedError,
    );
    assert.ok(
      toKubeError(status(404, 'NotFound', 'secrets "s" not found'), ctx) instanceof KubeNotFoundError,
    );
    const conflict = toKubeError(status(409, 'Conflict', 'the object has been modified'), ctx);
    assert.ok(conflict instanceof KubeConflictError);
    assert.equal(conflict.nonRetryable, false);
    assert.ok(toKubeError(status(422, 'Invalid', 'bad'), ctx) instanceof KubeInvalidError);
    for (const code of [500, 503, 504, 429]) {
      const e = toKubeError(status(code, 'InternalError', 'etcd'), ctx);
      assert.ok(e instanceof KubeRetryableError, String(code));
      assert.equal(e.nonRetryable, false);
    }
    const refused = Object.assign(new Error('request to https://127.0.0.1:1 failed'), {
      type: 'system',
      code: 'ECONNREFUSED',
    });
    const e = toKubeError(refused, ctx);
    assert.ok(e instanceof KubeRetryableError);
    assert.match(e.message, /ECONNREFUSED/);
  });

  test('a Secret error never echoes what the apiserver quoted back', () => {
    const leaked = 'c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtbGVhaw==';
    const err = toKubeError(
      status(422, 'Invalid', `Secret "s" is invalid: data[bad key]: Invalid value: "${leaked}"`, {
        details: { causes: [{ field: 'data[bad key]', reason: 'FieldValueInvalid', message: leaked }] },
      }),
      { verb: 'create', resource: 'secrets', namespace: 'ns', name: 's' },
    );
    assert.ok(!err.message.includes(leaked));
    assert.ok(!JSON.stringify(err).includes(leaked));
    assert.match(err.message, /invalid fields: data\[bad key\]/);
  });

  test('unknown errors do not carry their message', () => {
    const err = toKubeError(new TypeError('secret-key=hunter2'), {
      verb: 'get',
      resource: 'secrets',
      namespace: 'n',
    });
    assert.ok(!err.message.includes('hunter2'));
  });
});
