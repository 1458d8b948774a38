import { ChaosProxy, type FaultEvent } from "@fixmesh/chaos";
import type { SessionNotice, SessionSettings } from "@fixmesh/session";
import { startVenueSim, type VenueSession, type VenueSim, type VenueSimConfigInput } from "@fixmesh/venue-sim";
import { OurSide, type OurSideOptions } from "./our-side.js";
import { stamp } from "./wait.js";

/** What a scenario runs against: the venue simulator, the chaos proxy in front of it, and our side behind it. */
export interface Rig {
  readonly venue: VenueSim;
  /** The venue's end of our session (its fault knobs). */
  readonly vs: VenueSession;
  readonly proxy: ChaosProxy;
  readonly us: OurSide;
  /** Every fault the proxy reports, in order. */
  readonly faults: Array<FaultEvent & { at: number }>;
  /** Every ExecID the venue sent on our session (executions, not status answers), in order. */
  readonly venueExecIds: string[];
  /** Notices of the venue's session (across its restarts), for diagnostics. */
  readonly venueNotices: Array<SessionNotice & { at: number }>;
  stop(): Promise<void>;
}

export interface RigOptions {
  /** Our session's settings over `BASE_SETTINGS`. */
  settings?: Partial<SessionSettings>;
  /** Settings of the venue's session (its HeartBtInt is the one we propose). */
  venueSession?: Record<string, unknown>;
  policy?: VenueSimConfigInput["policy"];
  symbols?: VenueSimConfigInput["symbols"];
  /** Passed to our side. */
  our?: Omit<OurSideOptions, "port" | "settings">;
  /** Wait for LIVE before returning (default true). */
  live?: boolean;
  /** Connect our side straight to the venue, bypassing the proxy (a baseline; no proxy faults then). */
  direct?: boolean;
}

export async function startRig(o: RigOptions = {}): Promise<Rig> {
  const venue = await startVenueSim({
    listen: { port: 0 },
    sessions: [{ BeginString: "FIX.4.4", SenderCompID: "VENUE", TargetCompID: "CLIENT", ...o.venueSession }],
    policy: { fill: "immediate", referencePrice: 100, priceBandPercent: 50, maxQuantity: 1_000_000, ...o.policy },
    ...(o.symbols !== undefined && { symbols: o.symbols }),
  } as VenueSimConfigInput);
  const vs = venue.session("CLIENT");
  const venueExecIds: string[] = [];
  venue.onExecution((e) => {
    if (e.session === vs.id && e.event.kind !== "status") venueExecIds.push(e.event.execId);
  });
  const venueNotices: Array<SessionNotice & { at: number }> = [];
  let watched: unknown = null;
  // The venue replaces its runner on a reset or a wiped restart: follow the current one.
  const watch = setInterval(() => {
    if (vs.runner !== watched) {
      watched = vs.runner;
      vs.runner.onNotice((n) => venueNotices.push({ ...n, at: stamp() }));
    }
  }, 5);
  watched = vs.runner;
  vs.runner.onNotice((n) => venueNotices.push({ ...n, at: stamp() }));

  const proxy = new ChaosProxy({ target: { host: "127.0.0.1", port: venue.port } });
  await proxy.start();
  const faults: Array<FaultEvent & { at: number }> = [];
  proxy.on("fault", (f) => faults.push({ ...f, at: stamp() }));

  const us = await OurSide.start({ port: o.direct ? venue.port : proxy.port, settings: o.settings, ...o.our });
  const rig: Rig = {
    venue,
    vs,
    proxy,
    us,
    faults,
    venueExecIds,
    venueNotices,
    async stop() {
      clearInterval(watch);
      await us.runner.stop(200).catch(() => undefined);
      await proxy.stop();
      await venue.stop(100);
    },
  };
  if (o.live !== false) {
    try {
      await us.waitLive();
    } catch (err) {
      await rig.stop();
      throw err;
    }
  }
  return rig;
}
