import { BlockList, isIP } from "node:net";

/** A CIDR that cannot be read, with the reason. */
export class AddressListError extends Error {
  override readonly name = "AddressListError";
  constructor(
    readonly index: number,
    readonly reason: string,
  ) {
    super(`[${index}]: ${reason}`);
  }
}

/**
 * Source addresses allowed to connect: IPv4 and IPv6 CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or single addresses.
 * An IPv4 client reaching a dual-stack port shows as `::ffff:a.b.c.d` and is judged by its IPv4 address.
 */
export class AddressAllowList {
  private readonly list = new BlockList();
  readonly entries: readonly string[];

  private constructor(entries: readonly string[]) {
    this.entries = entries;
  }

  /** Throws `AddressListError` naming the entry: not an address, a prefix out of range, host bits set. */
  static parse(cidrs: readonly string[]): AddressAllowList {
    const out = new AddressAllowList([...cidrs]);
    cidrs.forEach((raw, i) => {
      const [addr, bits, more] = raw.trim().split("/");
      if (more !== undefined) throw new AddressListError(i, `is not a CIDR, got ${JSON.stringify(raw)}`);
      const family = isIP(addr);
      if (family === 0)
        throw new AddressListError(i, `is not an IPv4 or IPv6 address or CIDR, got ${JSON.stringify(raw)}`);
      const max = family === 4 ? 32 : 128;
      const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
      if (!(prefix >= 0 && prefix <= max)) {
        throw new AddressListError(i, `has a prefix length out of 0..${max}, got ${JSON.stringify(raw)}`);
      }
      const type = family === 4 ? "ipv4" : "ipv6";
      // A network written with host bits set (10.1.2.3/8) is most likely a typo for something narrower.
      const network = networkOf(addr, prefix, family);
      if (network !== null && network !== canonical(addr, family)) {
        throw new AddressListError(i, `has host bits set: did you mean ${network}/${prefix}?`);
      }
      out.list.addSubnet(addr, prefix, type);
    });
    return out;
  }

  allows(address: string | undefined): boolean {
    if (address === undefined) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped !== null) return this.list.check(mapped[1], "ipv4");
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? "ipv4" : "ipv6");
  }
}

function canonical(addr: string, family: number): string {
  return family === 4 ? addr : toV6(parseV6(addr));
}

/** The network address of `addr/prefix`, written canonically. */
function networkOf(addr: string, prefix: number, family: number): string | null {
  if (family === 4) {
    const parts = addr.split(".").map(Number);
    let n = ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
    n = prefix === 0 ? 0 : (n & (0xffffffff << (32 - prefix))) >>> 0;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  }
  const words = parseV6(addr);
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, prefix - i * 16));
    words[i] = keep === 0 ? 0 : words[i] & ((0xffff << (16 - keep)) & 0xffff);
  }
  return toV6(words);
}

function parseV6(addr: string): number[] {
  let a = addr.toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4) as two words.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4 !== null) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number);
    a = `${a.slice(0, v4.index)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = a.split("::");
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...Array<string>(fill).fill("0"), ...t].map((w) => Number.parseInt(w, 16));
}

function toV6(words: number[]): string {
  return words.map((w) => w.toString(16)).join(":");
}
