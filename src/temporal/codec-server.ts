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

/**
 * Temporal's remote codec protocol (POST /encode, /decode with {payloads: [...]}), so the
 * Web UI (`--ui-codec-endpoint`) and `temporal --codec-endpoint` can show the encrypted
 * payloads of this project's workflows to on-call. Bind it to loopback or put it behind
 * authentication: whoever reaches it can decrypt.
 */
export function startCodecServer(
  codec: PayloadCodec,
  opts: { port: number; host?: string; allowOrigin?: string },
): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    const cors = {
      'access-control-allow-origin': opts.allowOrigin ?? '*',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'content-type, x-namespace, authorization',
      'access-control-allow-credentials': 'true',
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors).end();
      return;
    }
    const op = req.url?.split('?')[0];
    if (req.method !== 'POST' || (op !== '/encode' && op !== '/decode')) {
      res
        .writeHead(404, { ...cors, 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'POST /encode or /decode' }));
      return;
    }
    try {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const body = JSON.parse(raw) as { payloads?: JSONPayload[] };
      if (!Array.isArray(body.payloads)) throw new Error('expected {"payloads": [...]}');
      const payloads = body.payloads.map(fromJSON);
      const out = op === '/encode' ? await codec.encode(payloads) : await codec.decode(payloads);
      res
        .writeHead(200, { ...cors, 'content-type': 'application/json' })
        .end(JSON.stringify({ payloads: out.map(toJSON) }));
    } catch (err) {
      res
        .writeHead(400, { ...cors, 'content-type': 'application/json' })
        .end(JSON.stringify({ error: (err as Error).message }));
    }
  });
  return new Promise((resolve) => server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve(server)));
}
