import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { InvalidOptionError, NonLoopbackAddressError } from "./errors.js";

/** A TCP endpoint: a host (an IP address or a name) and a port. */
export interface Endpoint {
  host: string;
  port: number;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** True for an IP address in 127.0.0.0/8 or ::1 (IPv4-mapped forms included); false for anything else, names too. */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return LOOPBACK.check(address, family === 6 ? "ipv6" : "ipv4");
}

/**
 * The address to use for `host`, checked: an IP literal is checked as it is; a name is resolved and every address it
 * resolves to must be loopback (a name that is loopback on one lookup and not on the next is refused), and the first
 * is returned so the connection goes where the check looked.
 */
export async function resolveChecked(
  role: "listen" | "target",
  host: string,
  allowNonLoopback: boolean,
): Promise<string> {
  if (isIP(host) !== 0) {
    if (!allowNonLoopback && !isLoopbackAddress(host)) throw new NonLoopbackAddressError(role, host);
    return host;
  }
  const found = await lookup(host, { all: true });
  if (found.length === 0) throw new NonLoopbackAddressError(role, host);
  if (!allowNonLoopback) {
    const outside = found.find((a) => !isLoopbackAddress(a.address));
    if (outside) throw new NonLoopbackAddressError(role, host, outside.address);
  }
  return found[0].address;
}

/** The literal check `resolveChecked` makes, done early (in a constructor) so a wrong IP fails where it was written. */
export function checkLiteral(role: "listen" | "target", host: string, allowNonLoopback: boolean): void {
  if (!allowNonLoopback && isIP(host) !== 0 && !isLoopbackAddress(host)) throw new NonLoopbackAddressError(role, host);
}

/** Parses `host:port`, `[v6]:port` or a bare `port` (loopback). */
export function parseEndpoint(option: string, text: string): Endpoint {
  let host = "127.0.0.1";
  let portText = text;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const colon = text.lastIndexOf(":");
    if (colon >= 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  const port = Number(portText);
  if (host === "" || !/^\d+$/.test(portText) || port > 65535) {
    throw new InvalidOptionError(option, `expected host:port (e.g. 127.0.0.1:9000 or [::1]:9000), got "${text}"`);
  }
  return { host, port };
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatEndpoint(e: Endpoint): string {
  return isIP(e.host) === 6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
