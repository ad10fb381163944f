import { pino } from "pino";
import { scrubSecrets } from "./redact.js";

export type Logger = pino.Logger;

/**
 * Structured JSON lines on stdout, written asynchronously (lines logged while a write is in flight go out together):
 * a synchronous write per request would cost the hot path a syscall. `flush()` at shutdown writes what is left.
 * Credentials are redacted from every line (src/log/redact.ts); `destination` is for tests that read the lines.
 */
export function createLogger(
  level: string,
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false }),
): Logger {
  return pino(
    {
      level,
      base: { svc: "hubmirror" },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: scrubSecrets },
    },
    destination,
  );
}
