/** Helpers for this package's tests: a Redis client, per-test key prefixes and their cleanup, cluster slots. */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

/** A plain client for the tests' own reads and for stores given a caller's client. */
export function testClient(): Redis {
  return new Redis(REDIS_URL, { commandTimeout: 5_000, maxRetriesPerRequest: 1 });
}

/** A key prefix no other test (or run) uses. */
export function freshPrefix(): string {
  return `fixmesh-test-${randomBytes(6).toString("hex")}`;
}

/** Every key under `prefix`. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}

/** Deletes every key under `prefix`. */
export async function dropKeys(client: Redis, prefix: string): Promise<void> {
  const keys = await keysUnder(client, prefix);
  for (let i = 0; i < keys.length; i += 500) await client.unlink(...keys.slice(i, i + 500));
}

/**
 * The Redis Cluster slot of `key`: CRC16 (XMODEM) of its hash tag — the bytes between the first `{` and the
 * first `}` after it, when not empty — or of the whole key, mod 16384 (the cluster specification's HASH_SLOT).
 * Computed here because the test server runs without cluster support, where CLUSTER KEYSLOT is refused.
 */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf("{");
  if (open >= 0) {
    const close = bytes.indexOf("}", open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
