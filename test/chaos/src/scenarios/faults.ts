import { MsgType } from "@fixmesh/fix";
import type { OurSide } from "../our-side.js";
import type { Rig } from "../rig.js";
import { sleep } from "../wait.js";

/**
 * Drops the venue's next `n` original messages toward us (ExecutionReports and Heartbeats alike; their resends,
 * PossDupFlag=Y, pass), as a link that loses a long run of traffic would. Returns the MsgSeqNums it covers.
 */
export function dropRun(rig: Rig, n: number): { from: number; to: number; cancel(): void } {
  const from = rig.vs.nextSenderSeq;
  const to = from + n - 1;
  const rule = rig.proxy.toClient.drop({ seq: { from, to }, possDup: false, persistent: true });
  return { from, to, cancel: () => rule.cancel() };
}

/**
 * Keeps submitting `perTick` orders every `everyMs` until stopped: live order flow during a recovery. Returns a
 * stopper that resolves once every order it sent is persisted.
 */
export function liveFlow(us: OurSide, prefix: string, perTick: number, everyMs: number): { stop(): Promise<number> } {
  let n = 0;
  let running = true;
  const sends: Array<Promise<number>> = [];
  const loop = (async () => {
    while (running) {
      for (let i = 0; i < perTick; i++) {
        n++;
        sends.push(
          us.submit({ clOrdId: `${prefix}-${n}`, symbol: "IBM", side: n % 2 ? "1" : "2", qty: 100, price: 100 }),
        );
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.all(sends);
      return n;
    },
  };
}

/** ResendRequests we sent since `since`, as [BeginSeqNo, EndSeqNo]. */
export function resendRequests(us: OurSide, since: number): Array<[number, number]> {
  return us.wire.session
    .filter((e) => e.dir === "out" && e.msgType === MsgType.ResendRequest && e.at >= since)
    .map((e) => {
      const m = /7=(\d+) 16=(\d+)/.exec(e.detail);
      return [Number(m?.[1]), Number(m?.[2])];
    });
}
