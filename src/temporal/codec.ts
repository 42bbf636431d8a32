import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

const ENCODING = 'binary/encrypted';
const KEY_ID_KEY = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const CODEC_KEY_ENV = 'ROTATOR_CODEC_KEY';
export const CODEC_KEY_ID_ENV = 'ROTATOR_CODEC_KEY_ID';
/** Several keys, `id=base64,id=base64`: the one ROTATOR_CODEC_KEY_ID names encrypts, all decrypt. */
export const CODEC_KEYS_ENV = 'ROTATOR_CODEC_KEYS';
/** The id of ROTATOR_CODEC_KEY when ROTATOR_CODEC_KEY_ID is not set (and of payloads before ids were set). */
const DEFAULT_KEY_ID = 'default';
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * AES-256-GCM over whole payloads. Workflows never carry a secret (only fingerprints and
 * references), so this is defence in depth for what remains: inventory, plans, errors.
 * The key id travels with each payload so keys can be rotated under open runs: the current
 * key encrypts, and every key the codec holds decrypts what was written with it.
 */
export class AesGcmCodec implements PayloadCodec {
  constructor(
    private readonly keys: ReadonlyMap<string, Buffer>,
    private readonly currentKeyId: string,
  ) {
    const key = keys.get(currentKeyId);
    if (!key)
      throw new Error(`codec key "${currentKeyId}" is not among the keys (${[...keys.keys()].join(', ')})`);
    for (const [id, k] of keys) if (k.length !== 32) throw new Error(`codec key "${id}" must be 32 bytes`);
  }

  /** The key ids this codec decrypts; the first is the one it encrypts with. Never the keys. */
  get keyIds(): string[] {
    return [this.currentKeyId, ...[...this.keys.keys()].filter((id) => id !== this.currentKeyId)];
  }

  /** This codec, also decrypting with `key` (ignored when it already has `id`). */
  alsoDecrypting(id: string, key: Buffer): AesGcmCodec {
    if (this.keys.has(id)) return this;
    return new AesGcmCodec(new Map([...this.keys, [id, key]]), this.currentKeyId);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { [METADATA_ENCODING_KEY]: enc(ENCODING), [KEY_ID_KEY]: enc(this.currentKeyId) },
        data,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
      if (!encoding || dec(encoding) !== ENCODING) return payload;
      const keyId = payload.metadata?.[KEY_ID_KEY] ? dec(payload.metadata[KEY_ID_KEY]) : '';
      const key = this.keys.get(keyId);
      if (!key)
        throw new Error(
          `payload encrypted with codec key id "${keyId}", which this process does not hold (it holds ${this.keyIds
            .map((id) => `"${id}"`)
            .join(
              ', ',
            )}): add that key to ${CODEC_KEYS_ENV} as ${keyId}=<base64 key> until no open run needs it`,
        );
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error('encrypted payload is truncated');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([
          decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
          decipher.final(),
        ]);
      } catch {
        throw new Error(
          `encrypted payload failed authentication (key id "${keyId}"): wrong key or tampered data`,
        );
      }
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

const keyOf = (what: string, raw: string): Buffer => {
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32)
    throw new Error(
      `${what} must be base64 of exactly 32 bytes (got ${key.length}); try: openssl rand -base64 32`,
    );
  return key;
};

/**
 * The codec from the environment (docs/configuring.md "Payload encryption"):
 * - ROTATOR_CODEC_KEY: base64 of 32 random bytes (`openssl rand -base64 32`), under the id
 *   ROTATOR_CODEC_KEY_ID (default "default");
 * - ROTATOR_CODEC_KEYS: `id=base64,id=base64`, more keys, so that a key can be rotated under
 *   open runs: the new key encrypts and the old one still decrypts what the runs wrote;
 * - ROTATOR_CODEC_KEY_ID: the id of the key that encrypts (needed with several keys and no
 *   ROTATOR_CODEC_KEY).
 * Neither key variable set means no encryption (the worker refuses that unless told). An
 * error names the variable and the key id, never a key.
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const keys = new Map<string, Buffer>();
  for (const entry of (env[CODEC_KEYS_ENV] ?? '').split(',').map((e) => e.trim())) {
    if (!entry) continue;
    const eq = entry.indexOf('=');
    const id = eq < 0 ? '' : entry.slice(0, eq).trim();
    // A bare key ends in "=" padding: with nothing after its "=", the entry is no id=key
    // pair, and its "id" (the key itself) must not reach the message.
    if (!KEY_ID.test(id) || !entry.slice(eq + 1).trim())
      throw new Error(
        `${CODEC_KEYS_ENV}: each entry is <id>=<base64 of 32 bytes>, the id 1-64 of A-Z a-z 0-9 . _ - (entry ${keys.size + 1} is not)`,
      );
    if (keys.has(id)) throw new Error(`${CODEC_KEYS_ENV}: key id "${id}" appears twice`);
    keys.set(id, keyOf(`${CODEC_KEYS_ENV}: key "${id}"`, entry.slice(eq + 1).trim()));
  }
  const namedId = env[CODEC_KEY_ID_ENV] || undefined;
  if (namedId !== undefined && !KEY_ID.test(namedId))
    throw new Error(`${CODEC_KEY_ID_ENV}: "${namedId}" is not an id (1-64 of A-Z a-z 0-9 . _ -)`);
  const single = env[CODEC_KEY_ENV];
  if (single) {
    const id = namedId ?? DEFAULT_KEY_ID;
    const key = keyOf(CODEC_KEY_ENV, single);
    const listed = keys.get(id);
    if (listed && !listed.equals(key))
      throw new Error(`${CODEC_KEY_ENV} and ${CODEC_KEYS_ENV} give key id "${id}" two different keys`);
    keys.set(id, key);
  }
  if (keys.size === 0) return undefined;
  const current = namedId ?? (keys.size === 1 ? [...keys.keys()][0]! : undefined);
  if (!current)
    throw new Error(
      `${CODEC_KEY_ID_ENV}: not set, and ${CODEC_KEYS_ENV} holds ${keys.size} keys (${[...keys.keys()].join(', ')}): name the one that encrypts`,
    );
  if (!keys.has(current))
    throw new Error(
      `${CODEC_KEY_ID_ENV}: "${current}" is not among the keys (${[...keys.keys()].join(', ')}); add it to ${CODEC_KEYS_ENV} or set ${CODEC_KEY_ENV}`,
    );
  return new AesGcmCodec(keys, current);
}

/** Whether the environment sets a codec key at all (either variable). */
export const codecKeySet = (env: NodeJS.ProcessEnv): boolean =>
  Boolean(env[CODEC_KEY_ENV] || env[CODEC_KEYS_ENV]);
