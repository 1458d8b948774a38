import { isIP } from "node:net";

/**
 * Whether binding `host` keeps a listener reachable from this machine only. `0.0.0.0`, `::` and every other
 * address are reachable from the network; `localhost` is accepted because it resolves to loopback addresses only.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost") return true;
  const kind = isIP(h);
  if (kind === 4) return h.startsWith("127.");
  if (kind === 6) {
    if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped?.[1].startsWith("127.") === true;
  }
  return false;
}
