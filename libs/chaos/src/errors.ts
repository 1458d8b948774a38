/** Errors a caller of the chaos proxy can act on, each with a stable `name`. */

/**
 * The proxy was asked to listen on or forward to an address that is not loopback (127.0.0.0/8 or ::1) without
 * `allowNonLoopback`. A fault injector pointed at a real venue by mistake would drop real executions.
 */
export class NonLoopbackAddressError extends Error {
  override readonly name = "NonLoopbackAddressError";
  constructor(
    /** Which side: the address the proxy listens on, or the one it forwards to. */
    readonly role: "listen" | "target",
    readonly host: string,
    /** The address `host` resolved to, when it was a name. */
    readonly address?: string,
  ) {
    super(
      `${role} ${host}${address !== undefined && address !== host ? ` (${address})` : ""} is not a loopback address; ` +
        "the chaos proxy only works on 127.0.0.0/8 and ::1 unless allowNonLoopback is set",
    );
  }
}

/** An option passed to the proxy or one of its controls is out of range; `option` names it. */
export class InvalidOptionError extends Error {
  override readonly name = "InvalidOptionError";
  constructor(
    readonly option: string,
    readonly reason: string,
  ) {
    super(`${option}: ${reason}`);
  }
}

/** A line of the CLI control protocol could not be understood; `line` is the line as typed. */
export class ControlCommandError extends Error {
  override readonly name = "ControlCommandError";
  constructor(
    readonly line: string,
    readonly reason: string,
  ) {
    super(`${reason} (in "${line}")`);
  }
}
