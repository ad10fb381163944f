import { RegistryError, sendError } from "../errors/oci-errors.js";
import type { Middleware } from "../http/compose.js";
import type { RequestContext } from "../http/context.js";
import type { LimitReporter } from "./report.js";

const EXPIRED = Symbol("expired");

/**
 * A request must have its answer started within `ms`: else 503. A body under way by then (a blob, an admin event
 * stream) is not cut here; the send-rate watchdog looks after those. The handler is not stopped: what it started
 * (an upstream fetch) may still complete and be cached, but what it answers late goes nowhere.
 */
export function requestDeadline(ms: number, report: LimitReporter): Middleware<RequestContext> {
  const timedOut = new RegistryError("UNAVAILABLE", `request not answered within ${ms / 1000} s`);
  return async (ctx, next) => {
    const work = next(ctx);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<typeof EXPIRED>((resolve) => {
      timer = setTimeout(resolve, ms, EXPIRED);
    });
    try {
      if ((await Promise.race([work, expired])) !== EXPIRED || ctx.res.headersSent) return await work;
    } finally {
      clearTimeout(timer);
    }
    work.catch((err: Error) =>
      report.log.debug({ err: err.message, path: ctx.req.url }, "late answer dropped"),
    );
    if (ctx.res.destroyed) return;
    report.exceeded("requestTimeout", "warn", { path: ctx.req.url, ms }, "request timed out");
    sendError(ctx.res, timedOut, ctx.head);
  };
}
