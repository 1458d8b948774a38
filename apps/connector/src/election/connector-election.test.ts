/**
 * Two connectors (in this process) for one initiator session, under Redis and under Lease election (the Lease
 * API served by the in-test server: no real API server runs here). What the outside sees of leadership: the
 * standby answers NOT_LEADER over gRPC and is not ready (health service `fixmesh.leader`), the metrics carry
 * `fixmesh_leader` and `fixmesh_epoch`, and a graceful stop of the leader hands the session over at once with the
 * next epoch.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RpcError } from "@fixmesh/contracts";
import { FakeLeaseApi } from "@fixmesh/election/testing";
import { SessionRunner, tcpConnector } from "@fixmesh/engine";
import { Health, MemoryStore, resolveSettings } from "@fixmesh/session";
import { parseVenueSimConfig, startVenueSim, type VenueSim } from "@fixmesh/venue-sim";
import * as grpc from "@grpc/grpc-js";
import { parseConfig } from "../config/load.js";
import { type Connector, startConnector } from "../connector.js";
import { createLogger } from "../log/logger.js";
import { deleteSessionKeys, freshPrefix, REDIS_URL, SESSION, waitFor } from "./failover-harness.js";

const TIMING = "leaseDuration: 1, renewDeadline: 0.6, retryPeriod: 0.1";

let venue: VenueSim;
const fake = new FakeLeaseApi();
before(async () => {
  venue = await startVenueSim(
    parseVenueSimConfig({
      listen: { host: "127.0.0.1", port: 0 },
      sessions: [
        { BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT", HeartBtInt: 5, NonStopSession: true },
      ],
      policy: { fill: "immediate", referencePrice: 100, priceBandPercent: 50 },
    }),
  );
  await fake.start();
});
after(async () => {
  await venue.stop(0);
  await fake.stop();
});

function yaml(identity: string, prefix: string, election: string): string {
  return [
    `connector: { id: ${identity} }`,
    `store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${prefix} } }`,
    `election: { identity: ${identity}, ${TIMING}, ${election} }`,
    "sessions:",
    "  - { BeginString: FIX.4.4, SenderCompID: CLIENT, TargetCompID: VENUE, ConnectionType: initiator, HeartBtInt: 5,",
    "      NonStopSession: Y, ReconnectInterval: 0.1, ReconnectMaxInterval: 0.3, LogoutTimeout: 1,",
    `      initiator: { hosts: [{ host: 127.0.0.1, port: ${venue.port} }] } }`,
    "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
    "metrics: { host: 127.0.0.1, port: 0 }",
  ].join("\n");
}

async function start(text: string): Promise<Connector> {
  return startConnector(parseConfig(text, { env: {} }), { logger: createLogger({ level: "silent" }) });
}

/** grpc.health.v1.Health/Check by hand: HealthCheckRequest{service=1}, HealthCheckResponse{status=1}. */
async function health(port: number, service: string): Promise<"SERVING" | "NOT_SERVING" | string> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const name = Buffer.from(service);
    const req = Buffer.concat([Buffer.from([0x0a, name.length]), name]);
    const res = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(
        "/grpc.health.v1.Health/Check",
        (b: Buffer) => b,
        (b: Buffer) => b,
        req,
        (err, value) => (err ? reject(err) : resolve(value as Buffer)),
      ),
    );
    const status = res.length >= 2 && res[0] === 0x08 ? res[1] : 0;
    return status === 1 ? "SERVING" : status === 2 ? "NOT_SERVING" : `status ${status}`;
  } finally {
    client.close();
  }
}

async function metric(port: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(`session="${SESSION}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

async function getSession(c: Connector) {
  const { createGrpcClient, SessionService } = await import("@fixmesh/contracts");
  const conn = new grpc.Client(`127.0.0.1:${c.grpcPort}`, grpc.credentials.createInsecure());
  try {
    return await createGrpcClient(SessionService, conn).getSession(
      { sessionId: SESSION },
      { deadline: Date.now() + 2000 },
    );
  } finally {
    conn.close();
  }
}

for (const backend of ["redis", "lease"] as const) {
  describe(`connectors under ${backend} election`, () => {
    it("the standby answers NOT_LEADER and is not ready; the leader's stop hands over at once with the next epoch", {
      timeout: 20_000,
    }, async () => {
      const prefix = freshPrefix();
      const lease = `fixmesh-test-${prefix.slice(-8).toLowerCase()}`;
      const election =
        backend === "redis"
          ? "kind: redis"
          : `kind: lease, lease: { namespace: fixmesh, name: ${lease}, apiServer: "${fake.url}" }`;
      const a = await start(yaml("replica-a", prefix, election));
      let b: Connector | undefined;
      try {
        await waitFor(() => a.get(SESSION)?.state.health === Health.Live, 5000, "a LIVE");
        b = await start(yaml("replica-b", prefix, election));
        const bc = b;
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(bc.get(SESSION), undefined, "the standby runs no session");

        const view = await getSession(a);
        assert.equal(view.session?.leader, true);
        assert.equal(view.session?.epoch, 1n);
        const err = await getSession(bc).then(
          () => assert.fail("the standby answered GetSession"),
          (e: unknown) => RpcError.from(e),
        );
        assert.equal(err.code, grpc.status.UNAVAILABLE);
        assert.equal(err.reason, "NOT_LEADER");
        assert.equal(err.metadata.session_id, SESSION);

        assert.equal(await health(a.grpcPort as number, "fixmesh.leader"), "SERVING");
        assert.equal(await health(bc.grpcPort as number, "fixmesh.leader"), "NOT_SERVING");
        assert.equal(await health(bc.grpcPort as number, ""), "SERVING", "a standby is alive");
        assert.equal(await metric(a.metricsPort as number, "fixmesh_leader"), 1);
        assert.equal(await metric(a.metricsPort as number, "fixmesh_epoch"), 1);
        assert.equal(await metric(bc.metricsPort as number, "fixmesh_leader"), 0);

        const t0 = performance.now();
        await a.stop();
        await waitFor(() => bc.get(SESSION)?.state.health === Health.Live, 3000, "b LIVE");
        const ms = performance.now() - t0;
        assert.ok(ms < 1000, `hand-over took ${ms} ms`);
        assert.equal((await getSession(bc)).session?.epoch, 2n);
        assert.equal(await metric(bc.metricsPort as number, "fixmesh_leader"), 1);
        assert.equal(await metric(bc.metricsPort as number, "fixmesh_epoch"), 2);
        assert.equal(await health(bc.grpcPort as number, "fixmesh.leader"), "SERVING");
        const transitions = await (await fetch(`http://127.0.0.1:${bc.metricsPort}/metrics`)).text();
        assert.match(transitions, /fixmesh_leader_transitions_total\{[^}]*transition="elected"[^}]*\} 1/);
        if (backend === "lease") {
          const rec = fake.lease("fixmesh", lease)?.spec;
          assert.equal(rec?.holderIdentity, "replica-b");
          assert.equal(rec?.leaseTransitions, 1);
        }
      } finally {
        await a.stop();
        await b?.stop();
        fake.delete("fixmesh", lease);
        await deleteSessionKeys(prefix);
      }
    });
  });
}

describe("a Lease deleted between two terms", () => {
  it("the next leader's epoch is above the store's fence, so the store takes it and the session goes LIVE", {
    timeout: 20_000,
  }, async () => {
    const prefix = freshPrefix();
    const lease = `fixmesh-test-${prefix.slice(-8).toLowerCase()}`;
    const election = `kind: lease, lease: { namespace: fixmesh, name: ${lease}, apiServer: "${fake.url}" }`;
    const made: Connector[] = [];
    try {
      // Three terms (epochs 1, 2, 3): the store is fenced at 3.
      for (const id of ["term-1", "term-2", "term-3"]) {
        const c = await start(yaml(id, prefix, election));
        made.push(c);
        await waitFor(() => c.get(SESSION)?.state.health === Health.Live, 5000, `${id} LIVE`);
        await c.stop();
      }
      assert.equal(fake.lease("fixmesh", lease)?.spec?.leaseTransitions, 2);
      // Someone deletes the Lease: its leaseTransitions starts again at 0, which alone would give epoch 1.
      assert.ok(fake.delete("fixmesh", lease));
      const c = await start(yaml("term-4", prefix, election));
      made.push(c);
      await waitFor(() => c.get(SESSION)?.state.health === Health.Live, 5000, "the new leader LIVE");
      assert.equal((await getSession(c)).session?.epoch, 4n, "above the store's fence epoch 3");
      assert.equal(fake.lease("fixmesh", lease)?.spec?.leaseTransitions, 0);
      assert.equal(fake.lease("fixmesh", lease)?.metadata.annotations?.["fixmesh.io/epoch"], "4");
    } finally {
      for (const c of made) await c.stop();
      fake.delete("fixmesh", lease);
      await deleteSessionKeys(prefix);
    }
  });
});

describe("an acceptor session under election", () => {
  it("only the leader listens; after a hand-over the new leader's port serves the counterparty", {
    timeout: 20_000,
  }, async () => {
    const prefix = freshPrefix();
    const acceptorYaml = (identity: string) =>
      [
        `connector: { id: ${identity} }`,
        `store: { kind: redis, redis: { url: "${REDIS_URL}", prefix: ${prefix} } }`,
        `election: { identity: ${identity}, ${TIMING}, kind: redis }`,
        "acceptors: [{ host: 127.0.0.1, port: 0 }]",
        "sessions:",
        "  - { BeginString: FIX.4.4, SenderCompID: VENUE, TargetCompID: CLIENT, ConnectionType: acceptor, NonStopSession: Y }",
        "grpc: { plaintext: true, host: 127.0.0.1, port: 0 }",
        "metrics: { host: 127.0.0.1, port: 0 }",
      ].join("\n");
    const id = "FIX.4.4:VENUE->CLIENT";
    const a = await start(acceptorYaml("replica-a"));
    let b: Connector | undefined;
    const clients: SessionRunner[] = [];
    const counterparty = async (port: number) => {
      const c = await SessionRunner.start({
        settings: resolveSettings({
          BeginString: "FIX.4.4",
          SenderCompID: "CLIENT",
          TargetCompID: "VENUE",
          ConnectionType: "initiator",
          HeartBtInt: 5,
          ReconnectInterval: 0.1,
        }),
        store: new MemoryStore(),
        connect: tcpConnector([{ host: "127.0.0.1", port }]),
        schedule: null,
      });
      clients.push(c);
      return c;
    };
    try {
      await waitFor(() => a.acceptorPorts[0] !== 0 && a.leadership(id)?.leader === true, 5000, "a to lead and listen");
      b = await start(acceptorYaml("replica-b"));
      const bc = b;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(bc.acceptorPorts[0], 0, "the standby does not listen");
      const first = await counterparty(a.acceptorPorts[0]);
      await waitFor(() => first.state.health === Health.Live, 5000, "the counterparty LIVE with a");
      await first.stop(1000);
      await a.stop();
      await waitFor(
        () => bc.acceptorPorts[0] !== 0 && bc.leadership(id)?.leader === true,
        3000,
        "b to lead and listen",
      );
      assert.equal(await health(bc.grpcPort as number, "fixmesh.leader"), "SERVING");
      const second = await counterparty(bc.acceptorPorts[0]);
      await waitFor(() => second.state.health === Health.Live, 5000, "the counterparty LIVE with b");
      // The numbers went on across the hand-over: b took over a's.
      assert.ok((bc.get(id)?.state.nextTargetSeq ?? 0) > 2);
    } finally {
      for (const c of clients) await c.stop(0);
      await a.stop();
      await b?.stop();
      await deleteSessionKeys(prefix, id);
    }
  });
});
