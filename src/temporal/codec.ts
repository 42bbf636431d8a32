import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

const ENCODING = 'binary/encrypted';
const KEY_ID_KEY = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const CODEC_KEY_ENV = 'ROTATOR_CODEC_KEY';
export const CODEC_KEY_ID_ENV = 'ROTATOR_CODEC_KEY_ID';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * AES-256-GCM over whole payloads. Workflows never carry a secret (only fingerprints and
 * references), so this is defence in depth for what remains: inventory, plans, errors.
 * The key id travels with each payload so keys can be rotated: old payloads name theirs.
 */
export class AesGcmCodec implements PayloadCodec {
  constructor(
    private readonly keys: Map<string, Buffer>,
    private readonly currentKeyId: string,
  ) {
    const key = keys.get(currentKeyId);
    if (!key || key.length !== 32) throw new Error(`codec key "${currentKeyId}" must be 32 bytes`);
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
      if (!key) throw new Error(`payload encrypted with unknown codec key id "${keyId}"`);
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

/**
 * The codec from the environment: ROTATOR_CODEC_KEY is base64 of 32 random bytes
 * (`openssl rand -base64 32`). Unset means no encryption, which is stated at start-up.
 */
export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): AesGcmCodec | undefined {
  const raw = env[CODEC_KEY_ENV];
  if (!raw) return undefined;
  const key = Buffer.from(raw, 'base64');
  if (key.length !== 32) {
    throw new Error(
      `${CODEC_KEY_ENV} must be base64 of exactly 32 bytes (got ${key.length}); try: openssl rand -base64 32`,
    );
  }
  const keyId = env[CODEC_KEY_ID_ENV] ?? 'default';
  return new AesGcmCodec(new Map([[keyId, key]]), keyId);
}
