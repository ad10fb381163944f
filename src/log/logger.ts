import { pino } from "pino";

export type Logger = pino.Logger;

/** Structured JSON lines on stdout. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { svc: "hubmirror" }, timestamp: pino.stdTimeFunctions.isoTime });
}
