import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  MadminAlgorithm,
  MadminCryptoError,
  decryptMadmin,
  encryptMadmin,
  isMadminEncrypted,
  type MadminAlgorithmId,
} from '../../src/rustfs/madmin-crypto';

interface Vector {
  name: string;
  /** Who produced the ciphertext: this implementation, or a real server. */
  source: string;
  algorithm: number;
  secretKey: string;
  plaintext: { utf8: string } | { repeat: string; length: number };
  saltHex?: string;
  noncePrefixHex?: string;
  ciphertextBase64: string;
}

const fixtureDir = path.join(__dirname, '..', 'fixtures', 'madmin');
const vectors = JSON.parse(fs.readFileSync(path.join(fixtureDir, 'vectors.json'), 'utf8')) as {
  vectors: Vector[];
};

function plaintextOf(v: Vector): Buffer {
  if ('utf8' in v.plaintext) return Buffer.from(v.plaintext.utf8, 'utf8');
  const unit = Buffer.from(v.plaintext.repeat, 'utf8');
  const out = Buffer.alloc(v.plaintext.length);
  for (let i = 0; i < out.length; i += unit.length) unit.copy(out, i);
  return out;
}

const ALL_IDS: MadminAlgorithmId[] = [
  MadminAlgorithm.Argon2idAesGcm,
  MadminAlgorithm.Argon2idChaCha20Poly1305,
  MadminAlgorithm.Pbkdf2AesGcm,
];

async function rejectsWith(p: Promise<unknown>, reason: MadminCryptoError['reason']): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MadminCryptoError, `expected MadminCryptoError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    return true;
  });
}

describe('madmin crypto: committed fixed vectors', () => {
  test('cover every algorithm id, multi-fragment bodies, and a server-produced body', () => {
    for (const id of ALL_IDS) {
      const ofId = vectors.vectors.filter((v) => v.algorithm === id);
      assert.ok(ofId.length > 0, `no vector for id ${id}`);
      assert.ok(
        ofId.some((v) => plaintextOf(v).length > 16 * 1024),
        `no multi-fragment vector for id ${id}`,
      );
    }
    assert.ok(
      vectors.vectors.some((v) => v.source.startsWith('minio')),
      'no vector produced by a real server',
    );
  });

  for (const v of vectors.vectors) {
    test(`decrypts ${v.name}`, async () => {
      const ct = Buffer.from(v.ciphertextBase64, 'base64');
      assert.ok(isMadminEncrypted(ct));
      const { plaintext, algorithm } = await decryptMadmin(v.secretKey, ct);
      assert.equal(algorithm, v.algorithm);
      assert.ok(plaintext.equals(plaintextOf(v)), 'plaintext differs from the vector');
    });
    if (v.saltHex && v.noncePrefixHex) {
      test(`re-encrypts ${v.name} to the same bytes`, async () => {
        const ct = await encryptMadmin(v.secretKey, plaintextOf(v), {
          algorithm: v.algorithm as MadminAlgorithmId,
          salt: Buffer.from(v.saltHex!, 'hex'),
          noncePrefix: Buffer.from(v.noncePrefixHex!, 'hex'),
        });
        assert.equal(ct.toString('base64'), v.ciphertextBase64);
      });
    }
  }
});

describe('madmin crypto: round trips', () => {
  // 0 and exact multiples of 16 KiB are the edge cases of the final-fragment rule.
  const sizes = [0, 1, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 3 * 16 * 1024 + 7];
  for (const id of ALL_IDS) {
    test(`id 0x0${id}: sizes ${sizes.join(', ')}`, async () => {
      for (const size of sizes) {
        const pt = Buffer.alloc(size);
        for (let i = 0; i < size; i++) pt[i] = (i * 31 + 7) & 0xff;
        const ct = await encryptMadmin('s3cr3t-key', pt, { algorithm: id });
        const fragments = Math.max(1, Math.ceil(size / (16 * 1024)));
        assert.equal(ct.length, 41 + size + 16 * fragments, `length for size ${size}`);
        assert.equal(ct[32], id);
        const { plaintext } = await decryptMadmin('s3cr3t-key', ct);
        assert.ok(plaintext.equals(pt), `round trip of ${size} bytes`);
      }
    });
  }

  test('every encryption uses a fresh salt and nonce', async () => {
    const pt = Buffer.from('{"status":"enabled"}');
    const a = await encryptMadmin('k', pt, { algorithm: MadminAlgorithm.Pbkdf2AesGcm });
    const b = await encryptMadmin('k', pt, { algorithm: MadminAlgorithm.Pbkdf2AesGcm });
    assert.notDeepEqual(a.subarray(0, 41), b.subarray(0, 41));
  });
});

describe('madmin crypto: rejects bad input with a specific error, never garbage', () => {
  const secret = 'correct-secret-key';
  const marker = 'SECRET-PLAINTEXT-MARKER';
  const bigPlain = Buffer.from(marker.repeat(2000)); // 46000 bytes: 3 fragments

  for (const id of ALL_IDS) {
    describe(`id 0x0${id}`, () => {
      let ct: Buffer;
      test('setup', async () => {
        ct = await encryptMadmin(secret, bigPlain, { algorithm: id });
      });

      test('wrong key', async () => {
        await rejectsWith(decryptMadmin('wrong-secret-key', ct), 'not-authentic');
      });

      test('flipped bit in each region: salt, nonce, first/middle/last fragment, tag', async () => {
        const offsets = [0, 35, 41, 41 + 16400 + 5, ct.length - 20, ct.length - 1];
        for (const off of offsets) {
          const bad = Buffer.from(ct);
          bad[off]! ^= 0x01;
          await rejectsWith(decryptMadmin(secret, bad), 'not-authentic');
        }
      });

      test('truncated at a fragment boundary (drops whole final fragment)', async () => {
        await rejectsWith(decryptMadmin(secret, ct.subarray(0, 41 + 2 * 16400)), 'not-authentic');
        await rejectsWith(decryptMadmin(secret, ct.subarray(0, 41 + 16400)), 'not-authentic');
      });

      test('truncated inside a fragment, inside a tag, inside the header', async () => {
        await rejectsWith(decryptMadmin(secret, ct.subarray(0, ct.length - 100)), 'not-authentic');
        await rejectsWith(decryptMadmin(secret, ct.subarray(0, 41 + 2 * 16400 + 5)), 'malformed');
        await rejectsWith(decryptMadmin(secret, ct.subarray(0, 30)), 'malformed');
      });

      test('extended with junk after the final fragment', async () => {
        await rejectsWith(decryptMadmin(secret, Buffer.concat([ct, Buffer.alloc(20)])), 'not-authentic');
      });

      test('fragments swapped', async () => {
        const head = ct.subarray(0, 41);
        const f1 = ct.subarray(41, 41 + 16400);
        const f2 = ct.subarray(41 + 16400, 41 + 2 * 16400);
        const rest = ct.subarray(41 + 2 * 16400);
        await rejectsWith(decryptMadmin(secret, Buffer.concat([head, f2, f1, rest])), 'not-authentic');
      });
    });
  }

  test('an unknown algorithm id', async () => {
    const ct = await encryptMadmin(secret, Buffer.from('x'), { algorithm: MadminAlgorithm.Pbkdf2AesGcm });
    ct[32] = 0x07;
    await rejectsWith(decryptMadmin(secret, ct), 'unknown-algorithm');
    assert.equal(isMadminEncrypted(ct), false);
  });

  test('error messages carry neither the key nor any plaintext', async () => {
    const ct = await encryptMadmin(secret, bigPlain, { algorithm: MadminAlgorithm.Pbkdf2AesGcm });
    const bad = Buffer.from(ct);
    bad[bad.length - 1]! ^= 0xff;
    const err = await decryptMadmin(secret, bad).then(
      () => assert.fail('decrypted tampered data'),
      (e: Error) => e,
    );
    assert.ok(!err.message.includes(secret));
    assert.ok(!err.message.includes(marker.slice(0, 10)));
    assert.ok(!JSON.stringify(err).includes(marker.slice(0, 10)));
  });
});

describe('madmin crypto: Argon2id key derivation', () => {
  const argonVectors = vectors.vectors.filter((v) => v.algorithm !== MadminAlgorithm.Pbkdf2AesGcm);

  test('runs off the JavaScript thread: the event loop keeps turning while a key is derived', async () => {
    const v = argonVectors[0]!;
    let turns = 0;
    let done = false;
    const spin = () => {
      if (done) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    await decryptMadmin(v.secretKey, Buffer.from(v.ciphertextBase64, 'base64'));
    done = true;
    // A synchronous derivation (64 MiB, tens of milliseconds at least) would allow a turn or two.
    // How many more turns fit depends on the machine's load (29 were seen beside other test
    // files on 2 cores), so the bound is the one a blocked loop cannot reach, not a speed.
    assert.ok(turns >= 5, `only ${turns} event-loop turns during the derivation`);
  });

  test('concurrent derivations all finish, and one that fails does not hold up the others', async () => {
    const results = await Promise.allSettled([
      ...argonVectors.map((v) => decryptMadmin(v.secretKey, Buffer.from(v.ciphertextBase64, 'base64'))),
      decryptMadmin('wrong-secret-key', Buffer.from(argonVectors[0]!.ciphertextBase64, 'base64')),
      ...argonVectors.map((v) => decryptMadmin(v.secretKey, Buffer.from(v.ciphertextBase64, 'base64'))),
    ]);
    const expected = [...argonVectors, undefined, ...argonVectors];
    results.forEach((r, i) => {
      const v = expected[i];
      if (!v) {
        assert.equal(r.status, 'rejected');
        return;
      }
      assert.equal(r.status, 'fulfilled', `${v.name}: ${r.status === 'rejected' ? String(r.reason) : ''}`);
      assert.ok(r.value.plaintext.equals(plaintextOf(v)), `${v.name}: plaintext differs`);
    });
  });
});
