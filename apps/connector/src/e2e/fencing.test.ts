/**
 * A stale epoch on Redis: while the connector's session is LIVE, a second writer opens the same session in
 * Redis and fences a higher epoch (a new leader). The connector's next Send is refused over gRPC, its FIX socket
 * is dropped at once, and nothing of it reaches the venue after the fence.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RpcError } from "@fixmesh/contracts";
import { Health, StaleEpochError } from "@fixmesh/session";
import { RedisStore } from "@fixmesh/store";
import { status as Code } from "@grpc/grpc-js";
import { parseConfig } from "../config/load.js";
import { type Connector, startConnector } from "../connector.js";
import { createLogger } from "../log/logger.js";
import {
  connectorYaml,
  deleteKeysUnder,
  order,
  REDIS_URL,
  SESSION,
  sessionClient,
  sleep,
  startTappedVenue,
  testNames,
  waitFor,
} from "./harness.js";

describe("a stale epoch on Redis (a second leader fences the session)", () => {
  it("the next Send is UNAVAILABLE/SESSION_FENCED, the venue sees the link drop, and nothing reaches it after the fence", {
    timeout: 20_000,
  }, async (t) => {
    const names = testNames();
    const tapped = await startTappedVenue();
    const config = parseConfig(
      connectorYaml({ id: "e2e-fence", venuePort: tapped.port, redisPrefix: names.redisPrefix }),
      { env: {} },
    );
    const logLines: string[] = [];
    let connector: Connector | undefined;
    const usurper = new RedisStore({ redis: REDIS_URL, session: SESSION, prefix: names.redisPrefix });
    const client = { current: undefined as ReturnType<typeof sessionClient> | undefined };
    try {
      connector = await startConnector(config, {
        logger: createLogger({ level: "info", destination: { write: (s: string) => logLines.push(s) } }),
      });
      const runner = connector.get(SESSION);
      assert.ok(runner);
      const venueSession = tapped.venue.session("CLIENT");
      await waitFor(
        () => runner.state.health === Health.Live && venueSession.health === Health.Live,
        10_000,
        "both sides LIVE",
      );
      client.current = sessionClient(connector.grpcPort as number);
      const rpc = client.current.rpc;
      const before = await rpc.send(order("F-BEFORE"));
      await waitFor(() => tapped.venue.order("F-BEFORE") !== undefined, 5000, "the first order at the venue");

      // The new leader: opens the session as it is in Redis and fences with an epoch above the connector's (0,
      // which its `open` adopted).
      const state = await usurper.open(Date.now());
      assert.equal(state.epoch, 0, "the connector writes with epoch 0");
      await usurper.fence(1);
      const wireAtFence = tapped.wire.length;
      const venueNextAtFence = venueSession.nextTargetSeq;

      const err = await rpc.send(order("F-AFTER")).then(
        () => assert.fail("a Send after the fence succeeded"),
        (e: unknown) => RpcError.from(e),
      );
      // session-service.ts maps StaleEpochError (the commit script refused epoch 0) to SESSION_FENCED, not to
      // PERSIST_FAILED: a retry on this connector can never succeed.
      assert.equal(err.code, Code.UNAVAILABLE, err.message);
      assert.equal(err.reason, "SESSION_FENCED");
      assert.equal(err.metadata.session_id, SESSION);
      assert.ok(runner.fenced instanceof StaleEpochError, "the runner knows it was fenced");

      await waitFor(() => !venueSession.connected, 5000, "the venue to see the connection drop");
      // Anything written before the drop would have arrived by now; the venue got nothing after the fence.
      assert.deepEqual(tapped.wire.slice(wireAtFence), [], "messages on the wire after the fence");
      assert.equal(venueSession.nextTargetSeq, venueNextAtFence, "the venue's next expected MsgSeqNum moved");
      assert.equal(tapped.venue.order("F-AFTER"), undefined, "the fenced order reached the venue");

      // A fenced connector stays off the wire: no reconnect (ReconnectInterval is 1 s), and every later Send
      // is refused the same way.
      const again = await rpc.send(order("F-AGAIN")).then(
        () => assert.fail("a second Send after the fence succeeded"),
        (e: unknown) => RpcError.from(e),
      );
      assert.equal(again.code, Code.UNAVAILABLE);
      assert.equal(again.reason, "SESSION_FENCED");
      await sleep(1500);
      assert.equal(venueSession.connected, false, "the fenced connector connected again");
      assert.deepEqual(tapped.wire.slice(wireAtFence), [], "messages on the wire after the fence");
      t.diagnostic(`order before the fence: MsgSeqNum ${before.msgSeqNum}; after: ${err.reason} (${err.message})`);
      assert.ok(
        logLines.some((l) => l.includes("fenced by a newer epoch")),
        "the connector logs why it dropped the socket",
      );
    } finally {
      client.current?.close();
      await connector?.stop().catch((e: unknown) => t.diagnostic(`stop: ${e}`));
      await usurper.close();
      await tapped.stop();
      await deleteKeysUnder(names.redisPrefix);
    }
  });
});
