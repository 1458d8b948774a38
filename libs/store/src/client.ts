import { type Cluster, Redis, type RedisOptions } from "ioredis";

/**
 * ioredis options for a client a store writes through; the store uses them for the client it creates from a URL,
 * and a caller that passes its own client should start from them.
 *
 * - `commandTimeout`: a command with no reply (a stalled link, a hung server) fails instead of holding the
 *   engine's commit — and so every send of the session — forever.
 * - `enableOfflineQueue: false`: while disconnected, a command fails at once instead of waiting in ioredis's
 *   queue, to be written whenever the link returns — long after the engine gave up on it and moved on.
 * - `autoResendUnfulfilledCommands: false`, `maxRetriesPerRequest: 0`: a command in flight when the connection
 *   drops fails with it, and is not replayed on the next connection behind later writes.
 * - `lazyConnect`: nothing connects before `open()`, which waits for the connection.
 *
 * ioredis keeps reconnecting in the background (its `retryStrategy`), so once Redis is back the next commit
 * goes through on the same store.
 */
export const REDIS_CLIENT_DEFAULTS = {
  commandTimeout: 2_000,
  connectTimeout: 5_000,
  enableOfflineQueue: false,
  autoResendUnfulfilledCommands: false,
  maxRetriesPerRequest: 0,
  lazyConnect: true,
} as const satisfies RedisOptions;

/** A client on `url` (`redis://…` or `rediss://…`) with REDIS_CLIENT_DEFAULTS under `options`. */
export function createRedisClient(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { ...REDIS_CLIENT_DEFAULTS, ...options });
}

/**
 * Resolves once `client` can take commands. A client with an offline queue needs no wait (commands queue,
 * bounded by its `commandTimeout`); one without it would refuse them until connected, so this connects a lazy
 * client and otherwise waits for `ready`, failing on the next connection error or after `timeoutMs`.
 */
export async function whenReady(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === "ready" || client.options.enableOfflineQueue !== false) return;
  if (client.status === "end") throw new Error("the connection was closed (client.quit or disconnect)");
  if (client.status === "wait") {
    await client.connect();
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("error", onError);
      client.off("end", onEnd);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onReady = () => done();
    const onError = (err: Error) => done(err);
    const onEnd = () => done(new Error("the connection was closed"));
    const timer = setTimeout(() => done(new Error(`not connected after ${timeoutMs} ms`)), timeoutMs);
    client.once("ready", onReady);
    client.once("error", onError);
    client.once("end", onEnd);
  });
}
