/**
 * `fixmesh order-entry rebuild --config FILE`: rebuilds order-entry's Redis store (the configured `store.redis`
 * prefix, which must be empty) from the connector's FIX stream (and the order ids from the ORDERS stream), then
 * prints a JSON summary. Stop order-entry first; start it again once done. Exit 0 done, 1 failed, 2 bad usage.
 */
import { parseArgs } from "node:util";
import { JetStreamBus } from "@fixmesh/bus";
import { describeLinkError, natsConnectOptions, redisClientOptions } from "@fixmesh/security";
import { credsAuthenticator, nkeyAuthenticator } from "@nats-io/transport-node";
import pino from "pino";
import { loadOrderEntryConfig, OrderEntryConfigError } from "./config/load.js";
import { rebuildFromStream } from "./service/rebuild.js";
import { RedisOrderStore } from "./store/redis.js";

export const REBUILD_USAGE = `  order-entry rebuild --config FILE      rebuild the (empty) Redis store from the FIX stream`;

export async function runRebuildCli(
  args: string[],
  io: { out: (l: string) => void; err: (l: string) => void },
): Promise<number> {
  let values: { config?: string };
  try {
    ({ values } = parseArgs({ args, options: { config: { type: "string" } } }));
  } catch (err) {
    io.err(`order-entry rebuild: ${(err as Error).message}\nusage:\n${REBUILD_USAGE}`);
    return 2;
  }
  if (!values.config) {
    io.err(`order-entry rebuild: --config FILE is required\nusage:\n${REBUILD_USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadOrderEntryConfig>;
  try {
    config = loadOrderEntryConfig(values.config, process.env);
  } catch (err) {
    if (!(err instanceof OrderEntryConfigError)) throw err;
    io.err(err.message);
    return 2;
  }
  if (config.store.kind !== "redis" || config.nats === undefined) {
    io.err("order-entry rebuild: needs store.kind redis and a nats section (the FIX stream to rebuild from)");
    return 2;
  }
  const log = pino(
    { level: config.log.level, base: { service: "order-entry", command: "rebuild" } },
    pino.destination(2),
  );
  const n = config.nats;
  const natsLink = config.links?.nats;
  const redisLink = config.links?.redis;
  const open = (stream: string, prefix: string) =>
    JetStreamBus.connect({
      servers: natsLink?.url !== undefined ? natsLink.url.split(",") : n.url,
      stream,
      subjects: [`${prefix}.>`],
      name: `${config.orderEntry.id}-rebuild`,
      ...(natsLink && { connectOptions: natsConnectOptions(natsLink, { nkeyAuthenticator, credsAuthenticator }) }),
    }).catch((err: unknown) => {
      throw describeLinkError("nats", err, { server: natsLink?.url ?? n.url });
    });
  const closers: Array<() => Promise<void>> = [];
  try {
    const repo = await RedisOrderStore.connect({
      url: redisLink?.url ?? config.store.redis.url,
      prefix: config.store.redis.prefix,
      ...(redisLink && { clientOptions: redisClientOptions(redisLink) }),
    });
    closers.push(() => repo.close());
    const fix = await open(n.fixStream, n.fixSubjectPrefix);
    closers.push(() => fix.close());
    const orders = await open(n.ordersStream, n.ordersSubjectPrefix);
    closers.push(() => orders.close());
    const summary = await rebuildFromStream({
      fix,
      fixSubjectPrefix: n.fixSubjectPrefix,
      orders,
      ordersSubjectPrefix: n.ordersSubjectPrefix,
      repo,
      sessions: new Set(config.sessions.map((s) => s.id)),
      logger: log,
    });
    io.out(JSON.stringify({ rebuilt: summary }));
    return 0;
  } catch (err) {
    io.err(`order-entry rebuild: ${(err as Error).message}`);
    return 1;
  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  }
}
