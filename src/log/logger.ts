import { pino } from "pino";

export type Logger = pino.Logger;

/**
 * Structured JSON lines on stdout, written asynchronously (lines logged while a write is in flight go out together):
 * a synchronous write per request would cost the hot path a syscall. `flush()` at shutdown writes what is left.
 */
export function createLogger(level: string): Logger {
  return pino(
    { level, base: { svc: "hubmirror" }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: false }),
  );
}
