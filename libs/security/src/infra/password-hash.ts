import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/**
 * Salted scrypt password hashes in the PHC string format: `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64 without
 * padding; N = 2^ln). What an acceptor keeps instead of its counterparties' FIX Passwords(554): a stolen
 * configuration gives no password, and each guess costs ~32 MiB and tens of milliseconds.
 */

export interface ScryptParams {
  /** log2 of the cost N (default 15: N = 32768). */
  ln: number;
  /** Block size (default 8). */
  r: number;
  /** Parallelism (default 1). */
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

/** A hash string that is not one this module wrote. */
export class PasswordHashError extends Error {
  override readonly name = "PasswordHashError";
}

export interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  hash: Buffer;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Checks a hash string; the error says what is wrong (never echoing the string, which is sensitive). */
export function parsePasswordHash(phc: string): ParsedHash {
  const m = PHC.exec(phc.trim());
  if (m === null) {
    throw new PasswordHashError(
      "is not a scrypt hash ($scrypt$ln=…,r=…,p=…$salt$hash): make one with `fixmesh hash-password`",
    );
  }
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 10 || params.ln > 22 || params.r < 1 || params.p < 1 || params.p > 16) {
    throw new PasswordHashError("has scrypt parameters out of range (ln 10..22, r ≥ 1, p 1..16)");
  }
  const salt = Buffer.from(m[4], "base64");
  const hash = Buffer.from(m[5], "base64");
  if (salt.length < 8 || hash.length < 16) throw new PasswordHashError("has a salt or hash that is too short");
  return { params, salt, hash };
}

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      length,
      { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** A new salted hash of `password` (runs in libuv's thread pool). */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  if (password.length === 0) throw new PasswordHashError("the password is empty");
  const salt = randomBytes(SALT_LENGTH);
  const hash = await derive(password, salt, params, KEY_LENGTH);
  const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

/** True when `password` hashes to `stored` (a string or a parsed hash); compared in constant time. */
export async function verifyPassword(password: string, stored: string | ParsedHash): Promise<boolean> {
  const h = typeof stored === "string" ? parsePasswordHash(stored) : stored;
  const got = await derive(password, h.salt, h.params, h.hash.length);
  return timingSafeEqual(got, h.hash);
}

/**
 * A hash no password matches, with the default cost: checked against when the identity is unknown, so an unknown
 * CompID costs the same time as a known one with a wrong password (no probing for CompIDs by timing).
 */
export const DECOY_HASH: ParsedHash = {
  params: DEFAULT_SCRYPT,
  salt: Buffer.alloc(SALT_LENGTH, 7),
  hash: Buffer.alloc(KEY_LENGTH, 0),
};
