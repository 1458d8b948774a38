/**
 * Failover: how long a FIX session is down when its leading connector process is SIGKILLed, and how long a rolling
 * update's hand-over (SIGTERM to the leader) takes, with real processes. The SIGKILL test in
 * `apps/connector/src/election/sigkill.test.ts` is the 5-trial version; this is the 20-trial one, with figures.
 *
 * Set-up (the connector's failover harness, `apps/connector/src/election/failover-harness.ts`, imported from its
 * compiled output — it is a test helper, not part of the package's exports): two `fixmesh connector` processes for
 * one initiator session CLIENT→VENUE, Redis store, election `redis` (a lock in the same Redis) or `lease` (against
 * the in-process `FakeLeaseApi` from `@fixmesh/election/testing`), lease 1 s / renew deadline 0.6 s / retry 0.1 s;
 * the venue simulator behind a wire tap; orders streamed over gRPC (4 in flight) to whichever process leads.
 *
 * A trial: orders stream to the leader, which is SIGKILLed after a random 30–400 ms; the failover time is from the
 * kill until the venue's session is LIVE on the standby's new connection. The standby must lead with the next epoch
 * and continue the old leader's sequence numbers (no reset), else the run fails. A fresh standby is spawned after
 * each trial. Then `--graceful` (3) hand-overs: orders stream to the leader, SIGTERM after 300 ms, timed from the
 * signal until the venue is LIVE with the standby; the figure is the slowest. In the end a few orders go through the
 * last leader and every order acknowledged over the whole run must have been taken in by the venue's application
 * exactly once: `lost` counts acknowledged orders it never took in, `duplicated` orders (acknowledged or not) it
 * took in more than once.
 *
 * Usage: node bench/dist/failover.js [--trials N] [--graceful N] [--backend redis|lease] [--json]
 * Needs Redis on 127.0.0.1:6379 (REDIS_URL) and the whole workspace built (the connector processes run
 * apps/cli/dist/main.js).
 */
import { FakeLeaseApi } from "@fixmesh/election/testing";
import { MsgType } from "@fixmesh/fix";
import { Health } from "@fixmesh/session";
import {
  ConnectorProcess,
  deleteSessionKeys,
  freshPrefix,
  LEASE,
  leaderOf,
  OrderPump,
  sleep,
  startTappedVenue,
  waitFor,
  writeConfig,
} from "../../apps/connector/dist/election/failover-harness.js";

const argv = process.argv.slice(2);
function opt(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}
function intOpt(name: string, d: number): number {
  const v = opt(name);
  if (v === undefined) return d;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}
const TRIALS = intOpt("trials", 20);
const GRACEFUL = intOpt("graceful", 3);
const JSON_OUT = argv.includes("--json");
const only = opt("backend");
const BACKENDS = (["redis", "lease"] as const).filter((b) => only === undefined || b === only);
if (BACKENDS.length === 0) throw new Error(`--backend must be redis or lease, got ${only}`);

const TARGET = { failoverMaxMs: 2000, gracefulMs: 500 };
const LEASE_MS = LEASE.leaseDuration * 1000;

type Backend = (typeof BACKENDS)[number];
interface Result {
  trials: number;
  failoverMs: { p50: number; p99: number; max: number };
  gracefulMs: number;
  lost: number;
  duplicated: number;
  backend: Backend;
  leaseDurationMs: number;
  /** Not in the JSON line: shown in the table. */
  detail: { failovers: number[]; gracefuls: number[]; acked: number; unacked: number; resent: number };
}

const progress = (s: string) => process.stderr.write(`${s}\n`);

/** Nearest-rank percentile of ascending `xs`. */
function percentile(xs: readonly number[], p: number): number {
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1))];
}

async function runBackend(backend: Backend, leaseApi: FakeLeaseApi): Promise<Result> {
  const prefix = freshPrefix();
  const { venue, tap, taken, stop } = await startTappedVenue();
  const files = writeConfig({
    redisPrefix: prefix,
    venuePort: tap.port,
    ...(backend === "lease" && {
      lease: { apiServer: leaseApi.url, namespace: "fixmesh", name: `bench-${prefix.slice(-8).toLowerCase()}` },
    }),
  });
  const procs: ConnectorProcess[] = [];
  const acked: Array<{ clOrdId: string }> = [];
  const failed: Array<{ clOrdId: string }> = [];
  const failovers: number[] = [];
  const gracefuls: number[] = [];
  const venueSession = venue.session("CLIENT");
  const spawn = async () => {
    const p = await ConnectorProcess.spawn(`c${procs.length + 1}`, files.config);
    procs.push(p);
    return p;
  };
  /** After a leader's end: the venue LIVE on a new connection, the new leader with the next epoch, no reset. */
  const takeover = async (what: string, connsBefore: number, epoch: number, ms: number) => {
    await waitFor(
      () => tap.conns.length > connsBefore && venueSession.connected && venueSession.health === Health.Live,
      ms,
      `${what}: the venue LIVE on a new connection`,
    );
    const liveAt = performance.now();
    const next = await leaderOf(
      procs.filter((p) => p.alive),
      3000,
    );
    const view = await next.leading();
    if (view?.epoch !== epoch + 1) throw new Error(`${what}: new leader's epoch ${view?.epoch}, expected ${epoch + 1}`);
    const lastOldSeq = Math.max(...tap.on(connsBefore).map((m) => m.seq));
    const logon = tap.on(tap.conns.length).find((m) => m.msgType === MsgType.Logon);
    if (logon === undefined || logon.resetSeqNumFlag || logon.seq <= lastOldSeq)
      throw new Error(`${what}: the new connection's Logon ${JSON.stringify(logon)} after seq ${lastOldSeq}`);
    return { liveAt, next, epoch: view.epoch };
  };
  try {
    await spawn();
    await spawn();
    let leader = await leaderOf(procs, 10_000);
    let epoch = (await leader.leading())?.epoch ?? 0;

    for (let trial = 1; trial <= TRIALS; trial++) {
      const pump = new OrderPump(leader, `K${trial}`);
      await sleep(30 + Math.random() * 370); // a random point of the stream
      const connsBefore = tap.conns.length;
      const killedAt = performance.now();
      leader.signal("SIGKILL");
      await leader.exited;
      pump.stop();
      await pump.done;
      acked.push(...pump.acked);
      failed.push(...pump.failed);
      const t = await takeover(`SIGKILL trial ${trial}`, connsBefore, epoch, 3 * LEASE_MS + 5000);
      failovers.push(t.liveAt - killedAt);
      ({ next: leader, epoch } = t);
      progress(`${backend}: SIGKILL trial ${trial}/${TRIALS}: ${Math.round(t.liveAt - killedAt)} ms`);
      await spawn(); // a fresh standby
    }

    for (let round = 1; round <= GRACEFUL; round++) {
      const pump = new OrderPump(leader, `G${round}`);
      await sleep(300);
      const connsBefore = tap.conns.length;
      const termAt = performance.now();
      leader.signal("SIGTERM");
      const exit = await leader.exited;
      pump.stop();
      await pump.done;
      acked.push(...pump.acked);
      failed.push(...pump.failed);
      if (exit.code !== 0) throw new Error(`SIGTERM round ${round}: the leader exited ${exit.code ?? exit.signal}`);
      const t = await takeover(`SIGTERM round ${round}`, connsBefore, epoch, 5000);
      gracefuls.push(t.liveAt - termAt);
      ({ next: leader, epoch } = t);
      progress(`${backend}: SIGTERM round ${round}/${GRACEFUL}: ${Math.round(t.liveAt - termAt)} ms`);
      if (round < GRACEFUL) await spawn();
    }

    const last = new OrderPump(leader, "LAST", 1);
    await waitFor(() => last.acked.length >= 3, 5000, "orders through the last leader");
    last.stop();
    await last.done;
    acked.push(...last.acked);
    try {
      await waitFor(
        () => acked.every((a) => venue.order(a.clOrdId) !== undefined),
        5000,
        "acknowledged orders at the venue",
      );
    } catch {
      // counted as lost below
    }
    await sleep(200);
    const onWire = (id: string) =>
      tap.sent.filter((m) => m.msgType === MsgType.NewOrderSingle && m.clOrdId === id).length;
    const lost = acked.filter((a) => (taken.get(a.clOrdId) ?? 0) === 0 || onWire(a.clOrdId) === 0).length;
    const duplicated = [...acked, ...failed].filter((a) => (taken.get(a.clOrdId) ?? 0) > 1).length;
    const resent = tap.sent.filter((m) => m.msgType === MsgType.NewOrderSingle && m.possDup).length;
    const sorted = [...failovers].sort((a, b) => a - b);
    const r = (x: number) => Math.round(x);
    return {
      trials: TRIALS,
      failoverMs: { p50: r(percentile(sorted, 50)), p99: r(percentile(sorted, 99)), max: r(sorted[sorted.length - 1]) },
      gracefulMs: r(Math.max(...gracefuls)),
      lost,
      duplicated,
      backend,
      leaseDurationMs: LEASE_MS,
      detail: {
        failovers: sorted.map(r),
        gracefuls: gracefuls.map(r),
        acked: acked.length,
        unacked: failed.length,
        resent,
      },
    };
  } finally {
    await Promise.all(procs.map((p) => p.kill()));
    await stop();
    files.cleanup();
    await deleteSessionKeys(prefix);
  }
}

const fmt = (n: number) => n.toLocaleString("en-US");
const verdict = (ok: boolean) => (ok ? "met" : "MISSED");

async function main(): Promise<void> {
  const leaseApi = new FakeLeaseApi();
  await leaseApi.start();
  const results: Result[] = [];
  try {
    for (const b of BACKENDS) results.push(await runBackend(b, leaseApi));
  } finally {
    await leaseApi.stop();
  }

  if (JSON_OUT) {
    for (const { detail: _, ...line } of results) process.stdout.write(`${JSON.stringify(line)}\n`);
    return;
  }
  const out: string[] = [];
  out.push(
    `failover benchmark — Node ${process.version}, ${TRIALS} SIGKILL trials and ${GRACEFUL} SIGTERM hand-overs per backend`,
    `2 connector processes (Redis store), lease duration ${LEASE.leaseDuration} s (renewDeadline ${LEASE.renewDeadline} s, ` +
      `retryPeriod ${LEASE.retryPeriod} s), venue simulator behind a wire tap, orders streamed to the leader (4 in flight)`,
    "failover = SIGKILL of the leader → venue LIVE on the standby's connection; graceful = SIGTERM → the same (slowest)",
    "",
    "backend   trials   p50 ms   p99 ms   max ms   graceful ms   orders acked   unacked   lost   duplicated",
  );
  for (const x of results)
    out.push(
      [
        x.backend.padEnd(7),
        String(x.trials).padStart(8),
        fmt(x.failoverMs.p50).padStart(8),
        fmt(x.failoverMs.p99).padStart(8),
        fmt(x.failoverMs.max).padStart(8),
        fmt(x.gracefulMs).padStart(13),
        fmt(x.detail.acked).padStart(14),
        fmt(x.detail.unacked).padStart(9),
        String(x.lost).padStart(6),
        String(x.duplicated).padStart(12),
      ].join(" "),
    );
  out.push("");
  for (const x of results)
    out.push(
      `${x.backend}: failovers ${x.detail.failovers.join(", ")} ms; hand-overs ${x.detail.gracefuls.join(", ")} ms; ` +
        `resent with PossDupFlag ${x.detail.resent}`,
    );
  out.push("");
  const each = (f: (x: Result) => boolean) => results.map((x) => `${x.backend} ${verdict(f(x))}`).join(", ");
  out.push(
    `target max failover < ${fmt(TARGET.failoverMaxMs)} ms: ${each((x) => x.failoverMs.max < TARGET.failoverMaxMs)}`,
    `target 0 lost, 0 duplicated: ${each((x) => x.lost === 0 && x.duplicated === 0)}`,
    `target graceful hand-over < ${TARGET.gracefulMs} ms: ${each((x) => x.gracefulMs < TARGET.gracefulMs)}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`failover benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
