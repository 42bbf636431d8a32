/**
 * AWS SigV4 for the admin API, with the maintained Smithy signer rather than a hand-rolled
 * one. The store authenticates admin calls exactly like S3 calls: service `s3`, and the
 * payload hash always travels in `x-amz-content-sha256` (MinIO refuses admin requests
 * without it).
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash } from 'node:crypto';
import type { Credentials } from './types';

export const DEFAULT_REGION = 'us-east-1';

export interface UnsignedRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Uint8Array;
}

export interface SignOptions {
  credentials: Credentials;
  region?: string;
  /** Fixed clock for reproducible signatures in tests. */
  signingDate?: Date;
}

/** Returns the headers to send: the caller's, plus host, date, content hash and authorization. */
export async function signRequest(req: UnsignedRequest, opts: SignOptions): Promise<Record<string, string>> {
  const body = req.body ?? new Uint8Array(0);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of req.url.searchParams) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const request = new HttpRequest({
    method: req.method,
    protocol: req.url.protocol,
    hostname: req.url.hostname,
    port: req.url.port ? Number(req.url.port) : undefined,
    path: req.url.pathname,
    query,
    headers: {
      ...req.headers,
      host: req.url.host,
      'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
    },
    body,
  });
  const signer = new SignatureV4({
    service: 's3',
    region: opts.region ?? DEFAULT_REGION,
    credentials: { accessKeyId: opts.credentials.accessKey, secretAccessKey: opts.credentials.secretKey },
    sha256: Sha256,
    // S3-style signing: the path is signed as sent, not escaped a second time.
    uriEscapePath: false,
  });
  const signed = await signer.sign(request, opts.signingDate ? { signingDate: opts.signingDate } : undefined);
  return { ...(signed.headers as Record<string, string>) };
}
