import { InvalidOptionError } from "./errors.js";

/** How a held chunk of replayed messages is released. */
export type ReplayOrder = "reverse" | "shuffle";

export interface HoldReplayOptions {
  /** Messages per chunk: a chunk is closed when it holds this many and the next replayed message starts another. */
  chunk: number;
  order: ReplayOrder;
  /**
   * How long each chunk is held, from its first message (default 50 ms). A chunk that is not full by then is released
   * as it is, so the tail of a replay is not held for ever.
   */
  releaseAfterMs?: number;
}

/** HoldReplayOptions with defaults applied, validated. */
export function replayOptions(o: HoldReplayOptions): Required<HoldReplayOptions> {
  if (!(Number.isInteger(o.chunk) && o.chunk >= 1)) {
    throw new InvalidOptionError("holdReplay.chunk", `must be a whole number ≥ 1, got ${o.chunk}`);
  }
  if (o.order !== "reverse" && o.order !== "shuffle") {
    throw new InvalidOptionError("holdReplay.order", `must be "reverse" or "shuffle", got "${o.order}"`);
  }
  const releaseAfterMs = o.releaseAfterMs ?? 50;
  if (!(Number.isFinite(releaseAfterMs) && releaseAfterMs >= 0)) {
    throw new InvalidOptionError("holdReplay.releaseAfterMs", `must be ≥ 0, got ${releaseAfterMs}`);
  }
  return { chunk: o.chunk, order: o.order, releaseAfterMs };
}

/**
 * The release order of a chunk, as indexes into it. `shuffle` is random but never the arrival order for two or more
 * messages (a test that asked for reordering gets reordering, whatever the draw).
 */
export function releaseOrder(n: number, order: ReplayOrder, random: () => number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  if (order === "reverse") return idx.reverse();
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  if (n >= 2 && idx.every((v, i) => v === i)) idx.push(idx.shift()!);
  return idx;
}
