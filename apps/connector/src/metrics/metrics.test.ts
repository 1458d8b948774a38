import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Acceptor, type CommitInfo, SessionRunner, tcpConnector } from "@fixmesh/engine";
import {
  Encoder,
  type FixMessage,
  Framer,
  formatUtcTimestamp,
  loadDictionary,
  MsgType,
  Tag,
  validate,
} from "@fixmesh/fix";
import {
  createSession,
  Health,
  MemoryStore,
  resolveSettings,
  type SessionNotice,
  type SessionSettings,
  Status,
} from "@fixmesh/session";
import { type MeteredSession, type MetricsHandle, startMetrics } from "./index.js";

const CLIENT = "FIX.4.4:CLIENT->VENUE";
const VENUE = "FIX.4.4:VENUE->CLIENT";

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function settings(role: "initiator" | "acceptor", over: Partial<SessionSettings> = {}): SessionSettings {
  return resolveSettings({
    BeginString: "FIX.4.4",
    SenderCompID: role === "initiator" ? "CLIENT" : "VENUE",
    TargetCompID: role === "initiator" ? "VENUE" : "CLIENT",
    ConnectionType: role,
    HeartBtInt: 30,
    ...over,
  });
}

/**
 * What a connector holds for one initiator ↔ acceptor link over loopback TCP: the acceptor validates against
 * the FIX 4.4 dictionary, as a connector with UseDataDictionary does. `via` puts a proxy between them.
 */
async function startPair(opts: { client?: Partial<SessionSettings>; via?: (venuePort: number) => Promise<number> }) {
  const dict = loadDictionary("FIX.4.4");
  const venue = await SessionRunner.start({
    settings: settings("acceptor"),
    store: new MemoryStore(),
    validate: (m) => validate(m, dict),
    schedule: null,
  });
  const acceptor = new Acceptor({ host: "127.0.0.1", port: 0 });
  acceptor.register(venue);
  const venuePort = await acceptor.listen();
  const port = opts.via ? await opts.via(venuePort) : venuePort;
  const client = await SessionRunner.start({
    settings: settings("initiator", opts.client),
    store: new MemoryStore(),
    connect: tcpConnector([{ host: "127.0.0.1", port }]),
    schedule: null,
  });
  const sessions = [client, venue];
  await waitFor(() => sessions.every((s) => s.state.health === Health.Live), 5000, "both sessions LIVE");
  return {
    client,
    venue,
    registry: { list: () => sessions, get: (id: string) => sessions.find((s) => s.id === id) },
    async stop() {
      await client.stop(500);
      await venue.stop(0);
      await acceptor.close();
    },
  };
}

/** The body of a GET of `path` on the metrics port. */
async function scrape(port: number, path = "/metrics"): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found: number[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not an exposition line: ${line}`);
    if (m[1] !== name) continue;
    const have = new Map([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) found.push(Number(m[3]));
  }
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0];
}

/** A NewOrderSingle the FIX 4.4 dictionary accepts. */
const ORDER = () => [
  Tag.ClOrdID,
  "A1",
  Tag.Symbol,
  "IBM",
  Tag.Side,
  "1",
  Tag.TransactTime,
  formatUtcTimestamp(Date.now()),
  Tag.OrderQty,
  100,
  Tag.OrdType,
  "1",
];

describe("metrics of a logged-on initiator ↔ acceptor pair", () => {
  let pair: Awaited<ReturnType<typeof startPair>>;
  let metrics: MetricsHandle;

  before(async () => {
    pair = await startPair({});
    metrics = await startMetrics({ host: "127.0.0.1", port: 0, registry: pair.registry });
  });
  after(async () => {
    await metrics?.close();
    await pair?.stop();
  });

  it("serves the exposition at /metrics on the free port it bound, and 404 elsewhere", async () => {
    assert.ok(metrics.port > 0);
    const ok = await scrape(metrics.port);
    assert.equal(ok.status, 200);
    assert.equal(ok.type, "text/plain; version=0.0.4; charset=utf-8");
    assert.equal(sample(ok.text, "fixmesh_sessions"), 2);
    assert.equal((await scrape(metrics.port, "/")).status, 404);
  });

  it("shows health LIVE=1 and every other health 0 for each session, and connected=1", async () => {
    const { text } = await scrape(metrics.port);
    for (const session of [CLIENT, VENUE]) {
      for (const h of Object.values(Health)) {
        assert.equal(sample(text, "fixmesh_session_health", { session, health: h }), h === Health.Live ? 1 : 0, h);
      }
      assert.equal(sample(text, "fixmesh_session_connected", { session }), 1);
      assert.ok((sample(text, "fixmesh_session_connect_time_seconds", { session }) ?? 0) > Date.now() / 1000 - 60);
    }
  });

  it("reports each session's next sender and target MsgSeqNum as its state has them", async () => {
    await pair.client.send(MsgType.NewOrderSingle, ORDER());
    await waitFor(() => pair.venue.state.nextTargetSeq === pair.client.state.nextSenderSeq, 5000, "order in");
    const { text } = await scrape(metrics.port);
    for (const r of [pair.client, pair.venue]) {
      assert.equal(sample(text, "fixmesh_session_next_sender_seq", { session: r.id }), r.state.nextSenderSeq);
      assert.equal(sample(text, "fixmesh_session_next_target_seq", { session: r.id }), r.state.nextTargetSeq);
    }
    assert.equal(pair.client.state.nextSenderSeq, 3, "Logon and one order sent");
  });

  it("counts messages both ways, and a Reject of an order missing OrdType(40) by SessionRejectReason 1", async () => {
    const before = (await scrape(metrics.port)).text;
    const outBefore = sample(before, "fixmesh_session_messages_out_total", { session: CLIENT }) ?? 0;
    assert.equal(sample(before, "fixmesh_session_rejects_sent_total", { session: VENUE, reason: "1" }), undefined);

    const noOrdType = ORDER().slice(0, -2);
    await pair.client.send(MsgType.NewOrderSingle, noOrdType);
    await waitFor(() => pair.client.state.counters.rejectsReceived === 1, 5000, "the Reject back at the client");

    const { text } = await scrape(metrics.port);
    assert.equal(sample(text, "fixmesh_session_rejects_sent_total", { session: VENUE, reason: "1" }), 1);
    assert.equal(sample(text, "fixmesh_session_rejects_received_total", { session: CLIENT }), 1);
    assert.equal(sample(text, "fixmesh_session_messages_out_total", { session: CLIENT }), outBefore + 1);
    for (const r of [pair.client, pair.venue]) {
      assert.equal(sample(text, "fixmesh_session_messages_in_total", { session: r.id }), r.state.counters.messagesIn);
      assert.equal(sample(text, "fixmesh_session_messages_out_total", { session: r.id }), r.state.counters.messagesOut);
      assert.equal(sample(text, "fixmesh_session_logons_total", { session: r.id }), 1);
    }
  });

  it("observes every store commit in fixmesh_store_commit_seconds and counts the messages committed", async () => {
    const { text } = await scrape(metrics.port);
    const commits = sample(text, "fixmesh_store_commit_seconds_count", { session: CLIENT }) ?? 0;
    assert.ok(commits >= 3, `commits: ${commits}`);
    assert.equal(sample(text, "fixmesh_store_commit_seconds_bucket", { session: CLIENT, le: "+Inf" }), commits);
    assert.ok((sample(text, "fixmesh_store_commit_seconds_bucket", { session: CLIENT, le: "1" }) ?? 0) > 0);
    // The two orders sent since the metrics started (the Logon was committed before they did).
    assert.equal(sample(text, "fixmesh_store_committed_messages_total", { session: CLIENT }), 2);
  });

  it("observes the SendingTime lag of delivered application messages only (the rejected order is not one)", async () => {
    const { text } = await scrape(metrics.port);
    assert.equal(sample(text, "fixmesh_inbound_lag_seconds_count", { session: VENUE }), 1);
    const lag = sample(text, "fixmesh_inbound_lag_seconds_sum", { session: VENUE }) ?? -1;
    assert.ok(lag >= 0 && lag < 5, `lag ${lag}`);
  });

  it("produces an exposition promtool accepts", async () => {
    const { text } = await scrape(metrics.port);
    const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    if (r.error) {
      assert.fail(`promtool: ${r.error.message} (Debian package prometheus; .ci/run installs it)`);
    }
    assert.equal(r.status, 0, `promtool check metrics:\n${r.stdout}${r.stderr}`);
  });

  it("counts a Logout by who started it: us on the initiator, them on the acceptor", async () => {
    const before = (await scrape(metrics.port)).text;
    assert.equal(sample(before, "fixmesh_session_logouts_total", { session: CLIENT, initiated_by: "us" }), 0);
    pair.client.logout("end of day");
    await waitFor(
      () => pair.client.state.status === Status.Disconnected && pair.venue.state.status === Status.Disconnected,
      5000,
      "both sides disconnected",
    );
    const { text } = await scrape(metrics.port);
    assert.equal(sample(text, "fixmesh_session_logouts_total", { session: CLIENT, initiated_by: "us" }), 1);
    assert.equal(sample(text, "fixmesh_session_logouts_total", { session: CLIENT, initiated_by: "them" }), 0);
    assert.equal(sample(text, "fixmesh_session_logouts_total", { session: VENUE, initiated_by: "them" }), 1);
    assert.equal(sample(text, "fixmesh_session_health", { session: CLIENT, health: Health.Live }), 0);
    assert.equal(sample(text, "fixmesh_session_health", { session: CLIENT, health: Health.Disconnected }), 1);
    assert.equal(sample(text, "fixmesh_session_connected", { session: CLIENT }), 0);
  });
});

/**
 * A TCP proxy that can hold back what the venue sends (a stalled link) and lets it through 300 ms after it
 * sees a TestRequest go the other way, so the answer arrives a known time after the question.
 */
async function stallingProxy(venuePort: number): Promise<{ port: number; hold(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let holding = false;
  const held: Array<{ to: Socket; chunk: Buffer }> = [];
  const release = () => {
    holding = false;
    for (const h of held.splice(0)) h.to.write(h.chunk);
  };
  const server: Server = createServer((fromClient) => {
    const toVenue = netConnect(venuePort, "127.0.0.1");
    for (const s of [fromClient, toVenue]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => {
        fromClient.destroy();
        toVenue.destroy();
      });
    }
    fromClient.on("data", (chunk: Buffer) => {
      toVenue.write(chunk);
      if (holding && chunk.includes(`\x01${Tag.MsgType}=${MsgType.TestRequest}\x01`)) setTimeout(release, 300);
    });
    toVenue.on("data", (chunk: Buffer) => {
      if (holding) held.push({ to: fromClient, chunk });
      else fromClient.write(chunk);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address();
  return {
    port: typeof a === "object" && a !== null ? a.port : 0,
    hold: () => {
      holding = true;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("TestRequest round trip over a stalled link", () => {
  it("observes the time from the client's TestRequest to the first message after it", async () => {
    let proxy: Awaited<ReturnType<typeof stallingProxy>> | undefined;
    // HeartBtInt=1: a TestRequest after 1.5 s of silence; the link is declared dead only after 10 s.
    const pair = await startPair({
      client: { HeartBtInt: 1, HeartbeatTimeoutThreshold: 10 },
      via: async (venuePort) => {
        proxy = await stallingProxy(venuePort);
        return proxy.port;
      },
    });
    const metrics = await startMetrics({ host: "127.0.0.1", port: 0, registry: pair.registry });
    try {
      proxy?.hold();
      await waitFor(() => pair.client.state.counters.testRequestsSent === 1, 4000, "a TestRequest");
      await waitFor(() => pair.client.state.testRequestsSent === 0, 4000, "the answer");
      const { text } = await scrape(metrics.port);
      assert.equal(sample(text, "fixmesh_session_test_request_rtt_seconds_count", { session: CLIENT }), 1);
      const rtt = sample(text, "fixmesh_session_test_request_rtt_seconds_sum", { session: CLIENT }) ?? -1;
      assert.ok(rtt >= 0.29 && rtt < 1.5, `rtt ${rtt}`);
      assert.equal(sample(text, "fixmesh_session_test_requests_sent_total", { session: CLIENT }), 1);
      assert.equal(sample(text, "fixmesh_session_health", { session: CLIENT, health: Health.Live }), 1);
    } finally {
      await metrics.close();
      await pair.stop();
      await proxy?.close();
    }
  });
});

function subscribe<T>(set: Set<T>, fn: T): () => void {
  set.add(fn);
  return () => set.delete(fn);
}

/** A session the test drives by hand: a real session state, and the three listener lists a runner has. */
async function handDriven(id: "CLIENT" | "OTHER") {
  const notices = new Set<(n: SessionNotice) => void>();
  const commits = new Set<(c: CommitInfo) => void>();
  const messages = new Set<(m: FixMessage, possDup: boolean) => void>();
  const state = createSession(settings("initiator", { SenderCompID: id }), await new MemoryStore().open(0), 0, {
    validate: null,
    schedule: null,
  });
  const session: MeteredSession = {
    id: state.id,
    state,
    connected: false,
    onNotice: (fn) => subscribe(notices, fn),
    onCommit: (fn) => subscribe(commits, fn),
    onMessage: (fn) => subscribe(messages, fn),
  };
  const enc = new Encoder("FIX.4.4", "VENUE", id);
  return {
    session,
    listeners: () => notices.size + commits.size + messages.size,
    /** Delivers an ExecutionReport stamped with SendingTime `sentAt` (epoch ms). */
    deliver(sentAt: number) {
      const bytes = enc.encode(MsgType.ExecutionReport, 2, formatUtcTimestamp(sentAt), [Tag.ClOrdID, "A1"]);
      new Framer().push(
        bytes,
        (m) => {
          for (const l of messages) l(m, false);
        },
        (g) => assert.fail(g.reason),
      );
    },
  };
}

describe("inbound lag and sessions that come and go", () => {
  it("counts a SendingTime ahead of this host's clock (skew) as 0 lag, not negative", async () => {
    const s = await handDriven("CLIENT");
    const now = Date.UTC(2026, 0, 5, 9, 0, 0);
    const metrics = await startMetrics({
      host: "127.0.0.1",
      port: 0,
      registry: { list: () => [s.session] },
      now: () => now,
    });
    try {
      s.deliver(now + 3_600_000);
      s.deliver(now - 250);
      const { text } = await scrape(metrics.port);
      const session = s.session.id;
      assert.equal(sample(text, "fixmesh_inbound_lag_seconds_count", { session }), 2);
      assert.equal(sample(text, "fixmesh_inbound_lag_seconds_sum", { session }), 0.25);
      assert.equal(sample(text, "fixmesh_inbound_lag_seconds_bucket", { session, le: "0.0005" }), 1);
    } finally {
      await metrics.close();
    }
  });

  it("meters a session added to the registry after the start, and stops listening to one removed", async () => {
    const a = await handDriven("CLIENT");
    const b = await handDriven("OTHER");
    const list: MeteredSession[] = [a.session];
    const metrics = await startMetrics({ host: "127.0.0.1", port: 0, registry: { list: () => list } });
    try {
      assert.equal(sample((await scrape(metrics.port)).text, "fixmesh_sessions"), 1);
      list.push(b.session);
      const { text } = await scrape(metrics.port);
      assert.equal(sample(text, "fixmesh_sessions"), 2);
      assert.equal(sample(text, "fixmesh_session_next_sender_seq", { session: b.session.id }), 1);
      assert.equal(b.listeners(), 3);
      // (Its last observed values stay in the exposition: the OpenTelemetry SDK keeps cumulative series.)
      list.shift();
      assert.equal(sample((await scrape(metrics.port)).text, "fixmesh_sessions"), 1);
      assert.equal(a.listeners(), 0);
    } finally {
      await metrics.close();
    }
    assert.equal(b.listeners(), 0, "close lets go of every session");
  });

  it("refuses to start on a port already in use, naming it", async () => {
    const first = await startMetrics({ host: "127.0.0.1", port: 0, registry: { list: () => [] } });
    try {
      await assert.rejects(
        startMetrics({ host: "127.0.0.1", port: first.port, registry: { list: () => [] } }),
        new RegExp(`metrics: cannot listen on 127.0.0.1:${first.port}: EADDRINUSE`),
      );
    } finally {
      await first.close();
    }
  });
});
