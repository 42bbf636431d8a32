import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { generateCredentials, mapS3Error, signRequest } from '../../src/rustfs';

describe('SigV4', () => {
  // The worked example of the AWS S3 documentation ("GET Object", Authenticating Requests:
  // Using the Authorization Header), which pins the canonical request rules we rely on.
  test('reproduces the AWS documentation example signature', async () => {
    const headers = await signRequest(
      {
        method: 'GET',
        url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
        headers: { range: 'bytes=0-9' },
      },
      {
        credentials: {
          accessKey: 'AKIAIOSFODNN7EXAMPLE',
          secretKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        },
        region: 'us-east-1',
        signingDate: new Date('2013-05-24T00:00:00Z'),
      },
    );
    assert.equal(
      headers['authorization'],
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
        'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ' +
        'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  test('hashes the body into x-amz-content-sha256 and signs the query', async () => {
    const body = Buffer.from('{"a":1}');
    const creds = { accessKey: 'AK', secretKey: 'SK' };
    const signingDate = new Date('2024-01-01T00:00:00Z');
    const url = new URL('http://127.0.0.1:9000/minio/admin/v3/add-user?accessKey=alice');
    const a = await signRequest({ method: 'PUT', url, body }, { credentials: creds, signingDate });
    assert.equal(
      a['x-amz-content-sha256'],
      '015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862',
    );
    assert.equal(a['host'], '127.0.0.1:9000');
    const other = new URL('http://127.0.0.1:9000/minio/admin/v3/add-user?accessKey=bob');
    const b = await signRequest({ method: 'PUT', url: other, body }, { credentials: creds, signingDate });
    assert.notEqual(a['authorization'], b['authorization']);
  });
});

describe('S3 error mapping', () => {
  function s3err(name: string, status: number): S3ServiceException {
    return new S3ServiceException({
      name,
      $fault: 'client',
      $metadata: { httpStatusCode: status },
      message: `${name} message`,
    });
  }
  const cases: Array<[string, number, string]> = [
    ['AccessDenied', 403, 'AccessDenied'],
    ['InvalidAccessKeyId', 403, 'AuthenticationFailed'],
    ['SignatureDoesNotMatch', 403, 'AuthenticationFailed'],
    ['NoSuchKey', 404, 'NotFound'],
    ['NoSuchBucket', 404, 'NotFound'],
    ['BucketAlreadyOwnedByYou', 409, 'AlreadyExists'],
    // HEAD replies have no body: the SDK names the error after the status.
    ['NotFound', 404, 'NotFound'],
    ['Forbidden', 403, 'AccessDenied'],
    ['SlowDown', 503, 'NotReady'],
  ];
  for (const [name, status, code] of cases) {
    test(`${name} (${status}) → ${code}`, () => {
      const e = mapS3Error('getObject', 'b/k', s3err(name, status));
      assert.equal(e.code, code);
      assert.equal(e.operation, 'getObject');
      assert.equal(e.status, status);
      assert.match(e.message, /^getObject \(b\/k\): /);
    });
  }

  test('network failure → Unavailable (retryable)', () => {
    const e = mapS3Error(
      'putObject',
      'b/k',
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    );
    assert.equal(e.code, 'Unavailable');
    assert.equal(e.retryable, true);
  });
});

describe('generateCredentials', () => {
  test('20-char [A-Z0-9] access key, 40-char secret, never repeated', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const c = generateCredentials();
      assert.match(c.accessKey, /^[A-Z0-9]{20}$/);
      assert.match(c.secretKey, /^[A-Za-z0-9]{40}$/);
      assert.ok(!seen.has(c.accessKey) && !seen.has(c.secretKey));
      seen.add(c.accessKey).add(c.secretKey);
    }
  });
});
