import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { RegistryError } from "../errors/oci-errors.js";

/**
 * scrypt with N = 2^15, r = 8, p = 1 (32 MiB, tens of ms): OWASP's floor for scrypt. The parameters are stored with
 * each hash, so they can be raised later and old hashes still verify (and are re-hashed at the next sign-in).
 */
const CURRENT = { logN: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_BYTES = 16;

export const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** logN, r, p, maxmem: 256 * 2 ** logN * r + (1 << 20) };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize("NFC"), salt, KEY_LENGTH, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** REQUEST_INVALID unless the password is a string of a sane length. */
export function checkPassword(password: unknown): string {
  if (typeof password !== "string" || password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
    throw new RegistryError(
      "REQUEST_INVALID",
      `a password has ${MIN_PASSWORD} to ${MAX_PASSWORD} characters`,
    );
  }
  return password;
}

/** `scrypt$ln=15,r=8,p=1$<salt>$<key>` (base64), with a fresh per-user salt. */
export async function hashPassword(password: string): Promise<string> {
  const { logN, r, p } = CURRENT;
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, logN, r, p);
  return `scrypt$ln=${logN},r=${r},p=${p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

const FORMAT = /^scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/** Whether `password` matches `stored`; false for a malformed hash or parameters out of range. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = FORMAT.exec(stored);
  if (!m) return false;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (logN < 10 || logN > 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  const expected = Buffer.from(m[5] as string, "base64");
  const key = await derive(password, Buffer.from(m[4] as string, "base64"), logN, r, p);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** True when `stored` was made with other parameters than today's. */
export function needsRehash(stored: string): boolean {
  return !stored.startsWith(`scrypt$ln=${CURRENT.logN},r=${CURRENT.r},p=${CURRENT.p}$`);
}

let dummy: Promise<string> | undefined;

/** A hash no password matches, verified against for unknown users so they take as long as known ones. */
export const dummyHash = (): Promise<string> => (dummy ??= hashPassword(randomBytes(16).toString("hex")));
