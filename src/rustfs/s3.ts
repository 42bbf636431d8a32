/**
 * The S3 data plane as one credential sees it: what smoke tests use to prove a key works and
 * that its policy allows exactly what it should. Failures come back as the same typed errors
 * as the admin API, so "denied" is an AccessDenied, not a string match.
 */
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { AdminError, fromNetwork, fromServer } from './errors';
import { DEFAULT_REGION } from './sigv4';
import type { Credentials } from './types';

export interface S3Options {
  endpoint: string;
  region?: string;
  credentials: Credentials;
  /** Attempts per call including the first, default 2: smoke results should not hide flakiness. */
  maxAttempts?: number;
  /** Per request, default 30 s. */
  timeoutMs?: number;
}

export interface S3Ops {
  /** Succeeds when the bucket already exists. */
  createBucket(bucket: string): Promise<void>;
  putObject(bucket: string, key: string, body: string | Uint8Array): Promise<void>;
  getObject(bucket: string, key: string): Promise<string>;
  deleteObject(bucket: string, key: string): Promise<void>;
  listObjects(bucket: string, prefix?: string): Promise<string[]>;
  /** Deletes every object, then the bucket; succeeds when it is already gone. */
  deleteBucket(bucket: string): Promise<void>;
  /** Releases sockets; the object is unusable afterwards. */
  close(): void;
}

export function createS3(opts: S3Options): S3Ops {
  const client = new S3Client({
    endpoint: opts.endpoint,
    region: opts.region ?? DEFAULT_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: opts.credentials.accessKey, secretAccessKey: opts.credentials.secretKey },
    maxAttempts: opts.maxAttempts ?? 2,
    // Flexible checksums are recent AWS additions that S3-compatible stores implement unevenly.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { requestTimeout: opts.timeoutMs ?? 30_000, connectionTimeout: opts.timeoutMs ?? 30_000 },
  });
  const secrets = [opts.credentials.secretKey];

  async function run<T>(operation: string, subject: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapS3Error(operation, subject, err, secrets);
    }
  }

  return {
    async createBucket(bucket) {
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (err) {
        const mapped = mapS3Error('createBucket', `bucket ${bucket}`, err, secrets);
        if (mapped.code === 'AlreadyExists') return;
        throw mapped;
      }
    },
    putObject: (bucket, key, body) =>
      run('putObject', `${bucket}/${key}`, async () => {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      }),
    getObject: (bucket, key) =>
      run('getObject', `${bucket}/${key}`, async () => {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return res.Body ? await res.Body.transformToString('utf8') : '';
      }),
    deleteObject: (bucket, key) =>
      run('deleteObject', `${bucket}/${key}`, async () => {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      }),
    listObjects: (bucket, prefix) =>
      run('listObjects', `${bucket}/${prefix ?? ''}`, async () => {
        const keys: string[] = [];
        let token: string | undefined;
        do {
          const res = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
          );
          for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
          token = res.IsTruncated ? res.NextContinuationToken : undefined;
        } while (token);
        return keys;
      }),
    async deleteBucket(bucket) {
      try {
        for (const key of await this.listObjects(bucket)) await this.deleteObject(bucket, key);
        await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      } catch (err) {
        const mapped = mapS3Error('deleteBucket', `bucket ${bucket}`, err, secrets);
        if (mapped.code === 'NotFound') return;
        throw mapped;
      }
    },
    close: () => client.destroy(),
  };
}

export function mapS3Error(
  operation: string,
  subject: string,
  err: unknown,
  secrets: readonly string[] = [],
): AdminError {
  if (err instanceof AdminError) return err;
  if (err instanceof S3ServiceException) {
    const status = err.$metadata?.httpStatusCode;
    // Bodiless replies (HEAD) surface as the bare status text; let the status decide then.
    const bare =
      err.name === 'NotFound' || err.name === 'Forbidden' || err.name === 'Unknown' || /^\d+$/.test(err.name);
    return fromServer({
      operation,
      status,
      serverCode: bare ? undefined : err.name,
      serverMessage: err.message,
      subject,
      secrets,
    });
  }
  return fromNetwork(operation, err, undefined, subject);
}
