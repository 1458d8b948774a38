/**
 * One script connection: a loopback TCP client with its own receive stream, cut into messages by the rule of
 * the conformance README ("Reading the acceptor's messages").
 */
import { connect as netConnect, type Socket } from "node:net";

const SOH = 0x01;
const BODY_LENGTH_TAG = Buffer.from("\x019=", "latin1");

/** The received bytes cannot be a FIX message (a BodyLength that is not a number). */
export class FramingError extends Error {
  override readonly name = "FramingError";
  constructor(
    readonly detail: string,
    readonly data: Buffer,
  ) {
    super(`cannot frame received data: ${detail}`);
  }
}

/**
 * Cuts a byte stream into messages: everything up to and including the first `SOH 9=`, the BodyLength digits
 * up to SOH, exactly that many bytes, then everything up to and including the next SOH (the CheckSum field).
 * Bytes may arrive split anywhere or several messages at once.
 */
export class MessageSplitter {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** Bytes received and not yet returned as a message. */
  get pending(): Buffer {
    return this.buf;
  }

  /** The next complete message, or undefined when more bytes are needed. Throws FramingError. */
  next(): Buffer | undefined {
    const tag = this.buf.indexOf(BODY_LENGTH_TAG);
    if (tag < 0) return undefined;
    const digitsStart = tag + BODY_LENGTH_TAG.length;
    let i = digitsStart;
    while (i < this.buf.length && this.buf[i] !== SOH) {
      const c = this.buf[i];
      if (c < 0x30 || c > 0x39) {
        throw new FramingError(`BodyLength holds the byte 0x${c.toString(16).padStart(2, "0")}`, this.buf);
      }
      i++;
    }
    if (i >= this.buf.length) return undefined;
    if (i === digitsStart) throw new FramingError("BodyLength is empty", this.buf);
    const bodyEnd = i + 1 + Number(this.buf.toString("latin1", digitsStart, i));
    if (bodyEnd > this.buf.length) return undefined;
    const checkSumEnd = this.buf.indexOf(SOH, bodyEnd);
    if (checkSumEnd < 0) return undefined;
    const message = this.buf.subarray(0, checkSumEnd + 1);
    this.buf = this.buf.subarray(checkSumEnd + 1);
    return message;
  }
}

/** What an `E` step got. */
export type ReadResult =
  | { kind: "message"; message: Buffer }
  | { kind: "timeout"; partial: Buffer }
  | { kind: "closed"; partial: Buffer; error?: Error }
  | { kind: "garbled"; partial: Buffer; detail: string };

/** What an `eDISCONNECT` step got. */
export type CloseResult = { kind: "closed"; error?: Error } | { kind: "data"; data: Buffer } | { kind: "timeout" };

export class ConnectError extends Error {
  override readonly name = "ConnectError";
  constructor(
    readonly host: string,
    readonly port: number,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot connect to ${host}:${port}: ${detail}`, options);
  }
}

export class ScriptConnection {
  private readonly splitter = new MessageSplitter();
  private ended = false;
  private closeError: Error | undefined;
  private wake: (() => void) | undefined;
  private corked = false;
  /** Closed by the script (iDISCONNECT or end of script). */
  private destroyedByUs = false;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.splitter.push(chunk);
      this.notify();
    });
    // FIN and reset both end the stream; a reset arrives as an error (ECONNRESET).
    socket.on("end", () => this.markEnded());
    socket.on("error", (e) => {
      this.closeError ??= e;
      this.markEnded();
    });
    socket.on("close", () => this.markEnded());
  }

  /** Opens a connection; rejects with ConnectError when it is refused or takes longer than `timeoutMs`. */
  static open(host: string, port: number, timeoutMs: number): Promise<ScriptConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectError(host, port, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (e: Error) => {
        clearTimeout(timer);
        reject(new ConnectError(host, port, e.message, { cause: e }));
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new ScriptConnection(socket));
      });
    });
  }

  /** True once the acceptor ended the stream (FIN or reset) or the script closed it. */
  get isClosed(): boolean {
    return this.ended || this.destroyedByUs;
  }

  get closedByScript(): boolean {
    return this.destroyedByUs;
  }

  /**
   * Writes and returns at once. Writes made in the same turn of the event loop are corked together, so
   * consecutive `I` lines reach the acceptor back to back, usually in one segment. A write after the acceptor
   * closed is dropped without failing: what the script expects next decides (README, "Connections").
   */
  send(bytes: Buffer): void {
    if (this.isClosed || this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => this.uncork());
    }
    this.socket.write(bytes);
  }

  private uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  /** Waits up to `timeoutMs` for the next complete message. */
  async nextMessage(timeoutMs: number): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const message = this.splitter.next();
        if (message !== undefined) return { kind: "message", message };
      } catch (e) {
        if (e instanceof FramingError) return { kind: "garbled", partial: e.data, detail: e.message };
        throw e;
      }
      if (this.ended) return { kind: "closed", partial: this.splitter.pending, error: this.closeError };
      if (!(await this.waitForEvent(deadline - Date.now()))) {
        return { kind: "timeout", partial: this.splitter.pending };
      }
    }
  }

  /** Waits up to `timeoutMs` for the acceptor to close; any byte (already unread, or arriving) comes first. */
  async nextClose(timeoutMs: number): Promise<CloseResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.splitter.pending.length > 0) return { kind: "data", data: this.splitter.pending };
      if (this.ended) return { kind: "closed", error: this.closeError };
      if (!(await this.waitForEvent(deadline - Date.now()))) return { kind: "timeout" };
    }
  }

  /** Closes from the script's side at once. Writes still queued locally are flushed first. */
  close(): void {
    if (this.destroyedByUs) return;
    this.destroyedByUs = true;
    this.uncork();
    if (this.socket.writableLength === 0) {
      this.socket.destroy();
    } else {
      // destroy() would throw queued `I` bytes away; end() sends them, then FIN.
      this.socket.end(() => this.socket.destroy());
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
    this.notify();
  }

  private markEnded(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Resolves true on the next data/close event, false when `ms` passes first. */
  private waitForEvent(ms: number): Promise<boolean> {
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}
