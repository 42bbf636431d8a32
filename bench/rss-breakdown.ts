// Where the worker's resident memory comes from, one import at a time (no stack needed):
//   node --import tsx bench/rss-breakdown.ts
// Prints JSON: RSS in MB after each step. Used to explain benchmark 5 in RESULTS.md.
/* eslint-disable @typescript-eslint/no-require-imports */
import {
  type encryptMadmin as EncryptMadmin,
  type MadminAlgorithm as Algorithms,
} from '../src/rustfs/madmin-crypto';
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

async function main(): Promise<void> {
  const steps: Array<[string, () => unknown]> = [
    ['node + tsx loader', () => 0],
    ['@kubernetes/client-node', () => require('@kubernetes/client-node')],
    ['@aws-sdk/client-s3', () => require('@aws-sdk/client-s3')],
    ['@temporalio/worker', () => require('@temporalio/worker')],
    ['src/temporal/worker (activities, rustfs, kube)', () => require('../src/temporal/worker')],
  ];
  const out: Array<{ step: string; rssMb: number }> = [];
  for (const [step, load] of steps) {
    load();
    out.push({ step, rssMb: rssMb() });
  }
  const { encryptMadmin, MadminAlgorithm } = require('../src/rustfs/madmin-crypto') as {
    encryptMadmin: typeof EncryptMadmin;
    MadminAlgorithm: typeof Algorithms;
  };
  const body = Buffer.from('{}');
  let t = performance.now();
  await encryptMadmin('bench-secret-key-0123456789', body, { algorithm: MadminAlgorithm.Pbkdf2AesGcm });
  out.push({ step: `1 PBKDF2 seal (${Math.round(performance.now() - t)} ms)`, rssMb: rssMb() });
  t = performance.now();
  await encryptMadmin('bench-secret-key-0123456789', body, { algorithm: MadminAlgorithm.Argon2idAesGcm });
  out.push({ step: `1 Argon2id seal (${Math.round(performance.now() - t)} ms)`, rssMb: rssMb() });
  t = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, () =>
      encryptMadmin('bench-secret-key-0123456789', body, { algorithm: MadminAlgorithm.Argon2idAesGcm }),
    ),
  );
  out.push({ step: `8 concurrent Argon2id seals (${Math.round(performance.now() - t)} ms)`, rssMb: rssMb() });
  process.stdout.write(`${JSON.stringify({ steps: out }, null, 2)}\n`);
}

void main();
