/**
 * Test support only: a tiny scripted acceptor on 127.0.0.1 for the runner's own tests. It frames and encodes
 * messages with its own few lines (not the runner's code), so the tests check the runner against an
 * independent implementation.
 */
import { createServer, type Socket } from "node:net";

const SOH = "\x01";

/** Encodes `8=…|` + the fields (SOH-separated, ending in SOH), computing BodyLength and CheckSum. */
export function encode(beginString: string, body: string): string {
  const head = `8=${beginString}${SOH}9=${Buffer.byteLength(body, "latin1")}${SOH}`;
  let sum = 0;
  for (const b of Buffer.from(head + body, "latin1")) sum += b;
  return `${head + body}10=${String(sum % 256).padStart(3, "0")}${SOH}`;
}

/** `YYYYMMDD-HH:MM:SS.sss`, the width FIX 4.2+ SendingTime has. */
export function stamp(): string {
  return new Date().toISOString().replace(/[-]/g, "").replace("T", "-").replace("Z", "").slice(0, 21);
}

export interface FakeConnection {
  /** Sends `body` (fields with `|` or SOH separators) encoded as a FIX.4.2 message. */
  reply(body: string): void;
  /** Sends bytes exactly as given. */
  raw(bytes: string): void;
  /** Closes with FIN. */
  end(): void;
  /** Closes with a reset. */
  reset(): void;
  /** Calls `fn` once when the runner closes its side. */
  onEnd(fn: () => void): void;
  /** Every chunk as it arrived from the runner. */
  readonly chunks: Buffer[];
}

/** Called for each complete message received; `fields` maps tag → value. */
export type Handler = (message: string, fields: Map<string, string>, conn: FakeConnection) => void;

export interface FakeAcceptor {
  port: number;
  /** Connections accepted so far. */
  readonly connections: FakeConnection[];
  close(): Promise<void>;
}

export async function startFakeAcceptor(handler: Handler): Promise<FakeAcceptor> {
  const sockets = new Set<Socket>();
  const connections: FakeConnection[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {
      // A runner that closes at once may reset us; nothing to do.
    });
    const chunks: Buffer[] = [];
    const conn: FakeConnection = {
      reply: (body) => socket.write(encode("FIX.4.2", `${body.replaceAll("|", SOH)}`), "latin1"),
      raw: (bytes) => socket.write(bytes.replaceAll("|", SOH), "latin1"),
      end: () => socket.end(),
      reset: () => socket.resetAndDestroy(),
      onEnd: (fn) => {
        socket.once("close", fn);
      },
      chunks,
    };
    connections.push(conn);
    let pending = "";
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      pending += chunk.toString("latin1");
      for (;;) {
        const m = /^[\s\S]*?\x0110=\d{3}\x01/.exec(pending);
        if (m === null) break;
        pending = pending.slice(m[0].length);
        const fields = new Map<string, string>();
        for (const f of m[0].split(SOH)) {
          const eq = f.indexOf("=");
          if (eq > 0) fields.set(f.slice(0, eq), f.slice(eq + 1));
        }
        if (!socket.destroyed) handler(m[0], fields, conn);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("fake acceptor has no TCP address");
  return {
    port: address.port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The behaviour most tests need, like QuickFIX's `at` for FIX.4.2/TW42: Logon from TW42 answered (else close
 * without a word), Logout answered then closed, TestRequest answered with a Heartbeat.
 */
export const sessionLike: Handler = (_message, fields, conn) => {
  const seq = (n: number) => `34=${n}|49=ISLD|52=${stamp()}|56=TW42|`;
  switch (fields.get("35")) {
    case "A":
      if (fields.get("49") !== "TW42") return conn.end();
      return conn.reply(`35=A|${seq(1)}98=0|108=${fields.get("108")}|`);
    case "5":
      conn.reply(`35=5|${seq(2)}`);
      return conn.end();
    case "1":
      return conn.reply(`35=0|${seq(2)}112=${fields.get("112")}|`);
  }
};
