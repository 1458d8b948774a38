/**
 * Session health from the connector's state events: a health notice on `fix.<session>.state` reaches the connector
 * client at once; other notices and other sessions change nothing; and a GetSession answer that was already on its
 * way when an event arrived does not undo the event (a test SessionService on loopback answers it late).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InProcessBus } from "@fixmesh/bus";
import { addGrpcService, type GrpcServiceImplOf, RpcError, SessionHealth, SessionService } from "@fixmesh/contracts";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { ConnectorClient } from "./connector.js";
import { followSessionHealth } from "./session-health.js";

const SESSION = "FIX.4.4:CLIENT->VENUE";
const OTHER = "FIX.4.4:CLIENT->OTHER";
const quiet = pino({ level: "silent" });

function stateEvent(session: string, notice: object, seq: number) {
  const token = session.replace(/[^A-Za-z0-9]+/g, "_");
  return {
    id: `${session}:c1:state:${seq}`,
    subject: `fix.${token}.state`,
    payload: Buffer.from(JSON.stringify({ session, cycle: "c1", at: seq, notice })),
  };
}

describe("session health from state events", () => {
  let server: grpc.Server;
  let address = "";
  /** What GetSession answers, and how long it takes. */
  const answer = { health: SessionHealth.LIVE, delayMs: 0, calls: 0 };

  before(async () => {
    server = new grpc.Server();
    const unimplemented = () => {
      throw new RpcError(grpc.status.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test server");
    };
    // Only GetSession is used here; every other method answers UNIMPLEMENTED.
    const impl = Object.fromEntries(
      Object.keys(SessionService.method).map((m) => [m, unimplemented]),
    ) as unknown as GrpcServiceImplOf<typeof SessionService>;
    addGrpcService(server, SessionService, {
      ...impl,
      getSession: async (req: { sessionId: string }) => {
        answer.calls++;
        const health = answer.health;
        await new Promise((r) => setTimeout(r, answer.delayMs));
        return { session: { sessionId: req.sessionId, health, leader: true } };
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    address = `127.0.0.1:${port}`;
  });
  after(() => server.forceShutdown());

  it("applies a health notice of its session at once, ignoring other notices and other sessions", async () => {
    answer.health = SessionHealth.LIVE;
    answer.delayMs = 0;
    const client = new ConnectorClient({ address, sessions: [SESSION], healthPollMs: 600_000 });
    const bus = new InProcessBus();
    try {
      await client.start();
      assert.equal(client.healthOf(SESSION), SessionHealth.LIVE);
      const sub = await followSessionHealth({
        bus,
        subjectPrefix: "fix",
        sinks: new Map([[SESSION, client]]),
        logger: quiet,
      });
      await bus.publish([
        stateEvent(SESSION, { kind: "logout", reason: "bye", initiatedBy: "them" }, 1),
        stateEvent(OTHER, { kind: "health", from: "LIVE", to: "SAFE", reason: "x" }, 2),
        { id: "junk", subject: "fix.X.state", payload: Buffer.from("{not json") },
      ]);
      assert.equal(client.healthOf(SESSION), SessionHealth.LIVE, "nothing said about this session's health");
      await bus.publish([stateEvent(SESSION, { kind: "health", from: "LIVE", to: "SAFE", reason: "seq too low" }, 3)]);
      assert.equal(client.healthOf(SESSION), SessionHealth.SAFE);
      await bus.publish([stateEvent(SESSION, { kind: "health", from: "SAFE", to: "DISCONNECTED", reason: "" }, 4)]);
      assert.equal(client.healthOf(SESSION), SessionHealth.DISCONNECTED);
      await sub.unsubscribe();
    } finally {
      client.close();
      await bus.close();
    }
  });

  it("keeps an event's health over a GetSession answer that was read before the event arrived", async () => {
    answer.health = SessionHealth.LIVE;
    answer.delayMs = 0;
    const client = new ConnectorClient({ address, sessions: [SESSION], healthPollMs: 600_000 });
    try {
      await client.start();
      answer.delayMs = 300;
      const calls = answer.calls;
      const poll = client.pollHealth();
      // The connector read LIVE for this call; then the session went down and said so.
      while (answer.calls === calls) await new Promise((r) => setTimeout(r, 5));
      client.noteHealth(SESSION, SessionHealth.DISCONNECTED, "venue gone");
      await poll;
      assert.equal(client.healthOf(SESSION), SessionHealth.DISCONNECTED);
      // The next poll (nothing newer from events) is believed again.
      answer.delayMs = 0;
      await client.pollHealth();
      assert.equal(client.healthOf(SESSION), SessionHealth.LIVE);
    } finally {
      client.close();
    }
  });
});
