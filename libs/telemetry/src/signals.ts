/** How a service process stops: on SIGTERM or SIGINT, gracefully; on a second signal meanwhile, at once. */

/** The logger calls used here (pino's). */
export interface SignalLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** A `SignalLogger` that writes lines (warnings and errors only) for processes that print to stderr. */
export function lineSignalLogger(prefix: string, write: (line: string) => void): SignalLogger {
  return {
    info: () => undefined,
    warn: (_obj, msg) => write(`${prefix}: ${msg}`),
    error: (obj, msg) => {
      const err = (obj as { err?: unknown }).err;
      write(`${prefix}: ${msg}${err === undefined ? "" : `: ${err instanceof Error ? err.message : String(err)}`}`);
    },
  };
}

/**
 * Waits for SIGTERM or SIGINT, then runs `stop` (log out, drain, close). A second signal while it runs exits the
 * process at once with 1. Resolves with the exit code: 0, or 1 when `stop` threw (logged with `failed`).
 */
export async function stopOnSignal(logger: SignalLogger, stop: () => Promise<void>, failed: string): Promise<number> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  logger.info({ signal }, "stopping on signal");
  const force = (s: NodeJS.Signals) => {
    logger.warn({ signal: s }, "second signal while stopping; exiting without waiting");
    process.exit(1);
  };
  process.on("SIGTERM", force);
  process.on("SIGINT", force);
  try {
    await stop();
    return 0;
  } catch (e) {
    logger.error({ err: e }, failed);
    return 1;
  }
}
