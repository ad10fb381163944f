import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/**
 * `bytes` random bytes in lowercase base32: a secret that is also a valid DNS label (a pull token is a host name's
 * first label) and survives copy-paste and case-folding resolvers.
 */
export function randomBase32(bytes: number): string {
  const buf = randomBytes(bytes);
  let out = "";
  let bits = 0;
  let value = 0;
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** A pull token: 160 random bits, 32 characters. */
export const newPullToken = () => randomBase32(20);
export const PULL_TOKEN = /^[a-z2-7]{32}$/;

/**
 * How secrets are stored: tokens, sessions and invites are long random strings, so a fast hash is enough (nothing
 * to brute-force), and lookups by hash stay cheap on every request. Passwords use scrypt (passwords.ts).
 */
export const secretHash = (secret: string): string => createHash("sha256").update(secret).digest("hex");

/** Compares two strings in time independent of where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A key for one purpose derived from the server secret, so no two uses share a key. */
export const deriveKey = (secret: Buffer, purpose: string): Buffer =>
  createHmac("sha256", secret).update(purpose).digest();

/**
 * The server secret (bearer-token signatures, CSRF tokens): 32 random bytes in `<data>/auth.secret`, created on
 * first start readable by the owner only. `wx` makes two processes starting at once agree on one file.
 */
export async function loadServerSecret(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, "auth.secret");
  try {
    await writeFile(file, randomBytes(32).toString("hex"), { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const hex = (await readFile(file, "utf8")).trim();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new Error(`${file}: expected 64 hex digits; delete it to make a new one`);
  return Buffer.from(hex, "hex");
}
