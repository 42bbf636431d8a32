import { randomInt } from 'node:crypto';
import type { Credentials } from './types';

const ACCESS_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
// URL- and shell-safe, so a key survives env files, YAML and query strings unquoted.
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomString(alphabet: string, length: number): string {
  let out = '';
  // randomInt is uniform (rejection sampling), unlike taking random bytes modulo the length.
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** A fresh key pair in the shape the stores expect: 20-char access key, 40-char secret key. */
export function generateCredentials(): Credentials {
  return { accessKey: randomString(ACCESS_ALPHABET, 20), secretKey: randomString(SECRET_ALPHABET, 40) };
}
