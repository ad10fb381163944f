import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import type { Metrics } from "../metrics/metrics.js";
import { parseRateLimit } from "./credential-pool.js";
import { first, type UpstreamDispatchOptions } from "./dispatch-options.js";

export interface RateLimit {
  limit: number | undefined;
  remaining: number | undefined;
}

export interface UpstreamMetricsOptions {
  registry: string;
  metrics: Metrics;
  onRateLimit: (r: RateLimit) => void;
}

/** Counts one request on the wire: every attempt, 401 and redirect hop, with status 0 when nothing answered. */
class MetricsHandler implements Dispatcher.DispatchHandler {
  private answered = false;

  constructor(
    private readonly handler: Dispatcher.DispatchHandler,
    private readonly opts: UpstreamDispatchOptions,
    private readonly o: UpstreamMetricsOptions,
  ) {}

  private count(status: number): void {
    const { kind = "other", method } = this.opts;
    this.o.metrics.upstreamRequests.inc({ registry: this.o.registry, kind, method, status: String(status) });
  }

  onRequestStart(controller: Dispatcher.DispatchController, context: unknown): void {
    this.handler.onRequestStart?.(controller, context);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    message?: string,
  ): void {
    this.answered = true;
    this.count(status);
    const remaining = parseRateLimit(first(headers["ratelimit-remaining"])).value;
    if (remaining !== undefined) {
      this.o.metrics.rateLimitRemaining.set({ registry: this.o.registry }, remaining);
      this.o.onRateLimit({ limit: parseRateLimit(first(headers["ratelimit-limit"])).value, remaining });
    }
    this.handler.onResponseStart?.(controller, status, headers, message);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.handler.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.handler.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Dispatcher.DispatchController, err: Error): void {
    if (!this.answered) this.count(0);
    this.handler.onResponseError?.(controller, err);
  }
}

/** hubmirror_upstream_requests_total and the rate limit upstream reports, noted on every answer. */
export function upstreamMetrics(o: UpstreamMetricsOptions): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts: UpstreamDispatchOptions, handler) =>
    dispatch(opts, new MetricsHandler(handler, opts, o));
}
