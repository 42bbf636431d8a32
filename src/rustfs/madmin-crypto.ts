/**
 * The madmin encrypted-body envelope (MinIO, and RustFS on `/minio/admin/v3`): a key derived
 * from the signing secret key seals the JSON in a "DARE"-style stream of AEAD fragments.
 *
 *   header   = salt (32) ‖ algorithm id (1) ‖ nonce prefix (8)
 *   fragment = AEAD(key, nonce = prefix ‖ LE32(seq), plaintext ≤ 16 KiB, ad) ‖ tag (16)
 *
 * `seq` counts from 1. The associated data of every fragment is a flag byte (0x00, or 0x80 on
 * the final fragment) followed by the tag of sealing nothing under sequence number 0, which
 * binds each fragment to this stream; the final flag is what makes truncation detectable.
 */
import { createCipheriv, createDecipheriv, pbkdf2, randomBytes, type CipherGCMTypes } from 'node:crypto';
import { promisify } from 'node:util';
import { hashRaw, type Algorithm } from '@node-rs/argon2';

export const MadminAlgorithm = {
  Argon2idAesGcm: 0x00,
  Argon2idChaCha20Poly1305: 0x01,
  Pbkdf2AesGcm: 0x02,
} as const;
export type MadminAlgorithmId = (typeof MadminAlgorithm)[keyof typeof MadminAlgorithm];

const SALT_LEN = 32;
const NONCE_PREFIX_LEN = 8;
const HEADER_LEN = SALT_LEN + 1 + NONCE_PREFIX_LEN;
const TAG_LEN = 16;
const FRAGMENT_LEN = 16 * 1024;
const SEALED_FRAGMENT_LEN = FRAGMENT_LEN + TAG_LEN;
const FINAL_FLAG = 0x80;

const pbkdf2Async = promisify(pbkdf2);

export type MadminCryptoFailure = 'malformed' | 'unknown-algorithm' | 'not-authentic';

/**
 * Decryption failed. Deliberately carries no ciphertext or plaintext: a wrong key, a flipped
 * bit and a cut-off stream all look the same to an AEAD, and none of them may leak data.
 */
export class MadminCryptoError extends Error {
  constructor(
    readonly reason: MadminCryptoFailure,
    message: string,
  ) {
    super(message);
    this.name = 'MadminCryptoError';
  }
}

export function isMadminEncrypted(data: Uint8Array): boolean {
  return data.length > SALT_LEN && isKnownAlgorithm(data[SALT_LEN]!);
}

function isKnownAlgorithm(id: number): id is MadminAlgorithmId {
  return id === 0x00 || id === 0x01 || id === 0x02;
}

// The native binding's enum is a `const enum` with no run-time object; only its value is sent.
const ARGON2ID: Algorithm.Argon2id = 2;

// Argon2id at 64 MiB runs natively on libuv's thread pool, so the event loop stays free; but
// each derivation in flight holds its own 64 MiB and two cores finish four no sooner than one
// after another, so derivations still queue up.
let argonQueue: Promise<unknown> = Promise.resolve();

async function deriveKey(id: MadminAlgorithmId, secret: string, salt: Uint8Array): Promise<Buffer> {
  if (id === MadminAlgorithm.Pbkdf2AesGcm) {
    return pbkdf2Async(Buffer.from(secret, 'utf8'), salt, 8192, 32, 'sha256');
  }
  const run = argonQueue.then(() =>
    hashRaw(Buffer.from(secret, 'utf8'), {
      algorithm: ARGON2ID,
      salt,
      timeCost: 1,
      memoryCost: 64 * 1024,
      parallelism: 4,
      outputLen: 32,
    }),
  );
  argonQueue = run.catch(() => undefined);
  return run;
}

function fragmentNonce(prefix: Uint8Array, seq: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.set(prefix, 0);
  nonce.writeUInt32LE(seq, 8);
  return nonce;
}

type Cipher = ReturnType<typeof createCipheriv>;
type Decipher = ReturnType<typeof createDecipheriv>;

function aeadName(id: MadminAlgorithmId): CipherGCMTypes | 'chacha20-poly1305' {
  return id === MadminAlgorithm.Argon2idChaCha20Poly1305 ? 'chacha20-poly1305' : 'aes-256-gcm';
}

function seal(id: MadminAlgorithmId, key: Buffer, nonce: Buffer, plaintext: Uint8Array, ad: Buffer): Buffer {
  // The union of overloads does not narrow on a computed algorithm name.
  const c = createCipheriv(aeadName(id) as 'aes-256-gcm', key, nonce, {
    authTagLength: TAG_LEN,
  }) as Cipher & {
    setAAD(b: Buffer): void;
    getAuthTag(): Buffer;
  };
  c.setAAD(ad);
  const body = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([body, c.getAuthTag()]);
}

function open(id: MadminAlgorithmId, key: Buffer, nonce: Buffer, sealed: Uint8Array, ad: Buffer): Buffer {
  const d = createDecipheriv(aeadName(id) as 'aes-256-gcm', key, nonce, {
    authTagLength: TAG_LEN,
  }) as Decipher & { setAAD(b: Buffer): void; setAuthTag(b: Uint8Array): void };
  d.setAAD(ad);
  d.setAuthTag(sealed.subarray(sealed.length - TAG_LEN));
  try {
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_LEN)), d.final()]);
  } catch {
    throw new MadminCryptoError(
      'not-authentic',
      'madmin body is not authentic: wrong secret key, tampered or truncated data',
    );
  }
}

function streamBinding(id: MadminAlgorithmId, key: Buffer, prefix: Uint8Array): Buffer {
  const sealedEmpty = seal(id, key, fragmentNonce(prefix, 0), new Uint8Array(0), Buffer.alloc(0));
  return Buffer.concat([Buffer.from([0x00]), sealedEmpty]);
}

export interface EncryptOptions {
  /** Defaults to 0x00 (Argon2id + AES-256-GCM), what MinIO itself sends. */
  algorithm?: MadminAlgorithmId;
  /** Only for reproducible test vectors; real callers must let these be random. */
  salt?: Uint8Array;
  noncePrefix?: Uint8Array;
}

export async function encryptMadmin(
  secretKey: string,
  plaintext: Uint8Array,
  opts: EncryptOptions = {},
): Promise<Buffer> {
  const id = opts.algorithm ?? MadminAlgorithm.Argon2idAesGcm;
  if (!isKnownAlgorithm(id)) throw new RangeError(`unknown madmin algorithm id ${String(id)}`);
  const salt = opts.salt ?? randomBytes(SALT_LEN);
  const prefix = opts.noncePrefix ?? randomBytes(NONCE_PREFIX_LEN);
  if (salt.length !== SALT_LEN || prefix.length !== NONCE_PREFIX_LEN) {
    throw new RangeError('madmin salt must be 32 bytes and nonce prefix 8 bytes');
  }
  const key = await deriveKey(id, secretKey, salt);
  const ad = streamBinding(id, key, prefix);
  const out: Buffer[] = [Buffer.from(salt), Buffer.from([id]), Buffer.from(prefix)];
  // An empty body still gets one (empty) final fragment, so "nothing" is authenticated too.
  const count = Math.max(1, Math.ceil(plaintext.length / FRAGMENT_LEN));
  for (let i = 0; i < count; i++) {
    if (i === count - 1) ad[0] = FINAL_FLAG;
    const chunk = plaintext.subarray(i * FRAGMENT_LEN, (i + 1) * FRAGMENT_LEN);
    out.push(seal(id, key, fragmentNonce(prefix, i + 1), chunk, ad));
  }
  return Buffer.concat(out);
}

export interface DecryptResult {
  plaintext: Buffer;
  algorithm: MadminAlgorithmId;
}

export async function decryptMadmin(secretKey: string, data: Uint8Array): Promise<DecryptResult> {
  if (data.length < HEADER_LEN + TAG_LEN) {
    throw new MadminCryptoError('malformed', 'madmin body is too short to hold a header and one fragment');
  }
  const id = data[SALT_LEN]!;
  if (!isKnownAlgorithm(id)) {
    throw new MadminCryptoError('unknown-algorithm', `madmin body names unknown algorithm id 0x${hex2(id)}`);
  }
  const salt = data.subarray(0, SALT_LEN);
  const prefix = data.subarray(SALT_LEN + 1, HEADER_LEN);
  const key = await deriveKey(id, secretKey, salt);
  const ad = streamBinding(id, key, prefix);
  const parts: Buffer[] = [];
  let offset = HEADER_LEN;
  let seq = 1;
  for (;;) {
    const remaining = data.length - offset;
    // A fragment is final exactly when nothing follows it; a stream cut at a fragment
    // boundary then ends with a non-final fragment, whose tag no longer verifies.
    const isFinal = remaining <= SEALED_FRAGMENT_LEN;
    const len = isFinal ? remaining : SEALED_FRAGMENT_LEN;
    if (len < TAG_LEN) {
      throw new MadminCryptoError('malformed', 'madmin body ends inside a fragment tag (truncated)');
    }
    if (isFinal) ad[0] = FINAL_FLAG;
    parts.push(open(id, key, fragmentNonce(prefix, seq), data.subarray(offset, offset + len), ad));
    offset += len;
    seq++;
    if (isFinal) break;
  }
  return { plaintext: Buffer.concat(parts), algorithm: id };
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
