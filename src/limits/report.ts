import type { Limits } from "../config/limits-schema.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";

/** The config key of the limit that was hit: the metric's label and the log line's `limit`. */
export type LimitName = Exclude<keyof Limits, "sendRateWindow" | "maxManifestSize" | "maxUpstreamJsonSize">;

/** Lines per limit at most per this: a flood of slow clients must not become a flood of log lines. */
const LOG_EVERY_MS = 1000;

/**
 * Counts every limit hit (the metric is exact) and logs it, at most one line per limit a second, that line
 * saying how many were left out since the last one. Never at error level: a client hitting a limit is the
 * limit working, not something the operator must act on.
 */
export class LimitReporter {
  private readonly last = new Map<LimitName, { at: number; unlogged: number }>();

  constructor(
    private readonly metrics: Metrics,
    readonly log: Logger,
  ) {}

  exceeded(
    limit: LimitName,
    level: "info" | "warn" | "debug",
    fields: Record<string, unknown>,
    msg: string,
  ): void {
    this.metrics.limitExceeded.inc({ limit });
    const now = Date.now();
    const last = this.last.get(limit);
    if (last && now - last.at < LOG_EVERY_MS) {
      last.unlogged++;
      return;
    }
    this.log[level]({ limit, ...fields, ...(last?.unlogged ? { unlogged: last.unlogged } : {}) }, msg);
    this.last.set(limit, { at: now, unlogged: 0 });
  }
}
