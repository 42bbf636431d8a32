import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { type Payload, type PayloadCodec } from '@temporalio/common';

interface JSONPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJSON = (p: JSONPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
  ),
  data: p.data === undefined ? undefined : Buffer.from(p.data, 'base64'),
});

const toJSON = (p: Payload): JSONPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: p.data ? Buffer.from(p.data).toString('base64') : undefined,
});

/** The largest request body the codec server reads unless told otherwise: 1 MiB (beyond: 413). */
export const CODEC_SERVER_MAX_BODY_BYTES = 1024 * 1024;

export interface CodecServerOptions {
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * The browser origins allowed to call it: the Web UI's, exactly (scheme, host and port).
   * A request carrying any other Origin header is refused (403), preflight included. A
   * request without one is not from a browser page (the `temporal` CLI, curl): the token
   * decides.
   */
  allowOrigins: string[];
  /**
   * Every /encode and /decode needs it, either as the first path segment (the endpoint is
   * `http://host:port/<token>`: the Web UI cannot send headers to a codec server, but it
   * appends /encode and /decode to the endpoint it is given) or as `Authorization: Bearer
   * <token>` (`temporal --codec-auth "Bearer <token>"`). Missing or wrong: 401.
   */
  token: string;
  /** Largest request body in bytes (default CODEC_SERVER_MAX_BODY_BYTES); beyond it: 413. */
  maxBodyBytes?: number;
}

/** The endpoint to configure (Web UI `--ui-codec-endpoint`, `temporal --codec-endpoint`): the token is its path. */
export function codecServerEndpoint(server: http.Server, token: string): string {
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the codec server is not listening on TCP');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}/${encodeURIComponent(token)}`;
}

function sameSecret(given: string | undefined, expected: Buffer): boolean {
  if (given === undefined) return false;
  const g = Buffer.from(given, 'utf8');
  return g.length === expected.length && timingSafeEqual(g, expected);
}

class BodyTooLarge extends Error {}

/** The body, or BodyTooLarge as soon as it passes `max` bytes (the rest is read and dropped). */
function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        reject(new BodyTooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => over || resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Temporal's remote codec protocol (POST /encode, /decode with {payloads: [...]}), so the
 * Web UI (`--ui-codec-endpoint`) and `temporal --codec-endpoint` can show the encrypted
 * payloads of this project's workflows to on-call. Whoever passes its checks can decrypt,
 * so it accepts only the Web UI's origin, a token and a bounded body; bind it to loopback.
 */
export function startCodecServer(codec: PayloadCodec, opts: CodecServerOptions): Promise<http.Server> {
  if (opts.token.length < 16 || /[/?#]/.test(opts.token)) {
    throw new Error('the codec server token must be at least 16 characters, without "/", "?" or "#"');
  }
  const token = Buffer.from(opts.token, 'utf8');
  const allowed = new Set(opts.allowOrigins);
  const max = opts.maxBodyBytes ?? CODEC_SERVER_MAX_BODY_BYTES;
  const server = http.createServer(async (req, res) => {
    const origin = req.headers.origin;
    const cors: Record<string, string> = {
      vary: 'Origin',
      ...(origin && allowed.has(origin)
        ? {
            'access-control-allow-origin': origin,
            'access-control-allow-methods': 'POST, OPTIONS',
            'access-control-allow-headers': 'content-type, x-namespace, authorization',
            'access-control-max-age': '600',
          }
        : {}),
    };
    const reply = (status: number, body: unknown, extra: Record<string, string> = {}) =>
      res
        .writeHead(status, { ...cors, 'content-type': 'application/json', ...extra })
        .end(JSON.stringify(body));
    // Refused before the body is read: the rest of it is dropped, for 2 s at most, so the
    // client still gets the answer; then the connection closes.
    const refuse = (status: number, body: unknown) => {
      reply(status, body, { connection: 'close' });
      req.resume();
      setTimeout(() => req.socket.destroy(), 2000).unref();
    };

    // A page on any other origin gets nothing: not the preflight, not an answer.
    if (origin !== undefined && !allowed.has(origin)) {
      refuse(403, { error: `origin ${origin} is not allowed` });
      return;
    }
    if (req.method === 'OPTIONS') {
      req.resume();
      res.writeHead(204, cors).end();
      return;
    }
    const segments = (req.url ?? '/').split('?')[0]!.split('/').slice(1);
    let first: string | undefined;
    try {
      first = segments.length > 1 ? decodeURIComponent(segments[0]!) : undefined;
    } catch {
      first = undefined;
    }
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    let op: string;
    if (sameSecret(first, token)) op = `/${segments.slice(1).join('/')}`;
    else if (sameSecret(bearer, token)) op = `/${segments.join('/')}`;
    else {
      refuse(401, {
        error: 'missing or wrong codec server token (the endpoint path, or Authorization: Bearer)',
      });
      return;
    }
    if (req.method !== 'POST' || (op !== '/encode' && op !== '/decode')) {
      refuse(404, { error: 'POST /encode or /decode' });
      return;
    }
    const tooLarge = () => refuse(413, { error: `request body larger than ${max} bytes` });
    if (Number(req.headers['content-length'] ?? 0) > max) {
      tooLarge();
      return;
    }
    try {
      const body = JSON.parse(await readBody(req, max)) as { payloads?: JSONPayload[] };
      if (!Array.isArray(body?.payloads)) throw new Error('expected {"payloads": [...]}');
      const payloads = body.payloads.map(fromJSON);
      const out = op === '/encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      reply(200, { payloads: out.map(toJSON) });
    } catch (err) {
      if (err instanceof BodyTooLarge) tooLarge();
      else reply(400, { error: (err as Error).message });
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
