import type { ServerResponse } from "node:http";
import type { Middleware } from "../http/compose.js";
import type { RequestContext } from "../http/context.js";
import type { LimitReporter } from "./report.js";

/** One response being watched; `acked` is -1 until its socket is first seen. */
interface Watched {
  res: ServerResponse;
  acked: number;
  /** Time spent (in ticks' worth) with bytes waiting for the client, and the bytes it took meanwhile. */
  waited: number;
  taken: number;
  cut: boolean;
}

/**
 * Cuts a client that reads a response body slower than `minRate` bytes/s, measured over `windowMs` of the time the
 * server had bytes waiting for it: a slow upstream (nothing to send) never counts against the client. Once cut, a
 * stuck reader no longer holds the download's buffers and file. One timer for every response, running while the
 * server listens; each tick samples the socket (bytes taken by the kernel, bytes still queued).
 */
export class SendRateWatchdog {
  private readonly watched = new Set<Watched>();
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly minRate: number,
    private readonly windowMs: number,
    private readonly report: LimitReporter,
  ) {
    this.tickMs = Math.min(1000, windowMs / 4);
  }

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.tickMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Watches each response until it closes. The error a cut causes in its handler is the cut's, reported already. */
  readonly layer: Middleware<RequestContext> = async (ctx, next) => {
    const w: Watched = { res: ctx.res, acked: -1, waited: 0, taken: 0, cut: false };
    this.watched.add(w);
    ctx.res.once("close", () => this.watched.delete(w));
    try {
      await next(ctx);
    } catch (err) {
      if (!w.cut) throw err;
    }
  };

  private tick(): void {
    for (const w of this.watched) {
      const socket = w.res.socket;
      if (!socket || w.cut) continue;
      // bytesWritten counts what is still queued in Node too.
      const acked = socket.bytesWritten - socket.writableLength;
      const taken = w.acked < 0 ? 0 : acked - w.acked;
      w.acked = acked;
      if (socket.writableLength === 0) continue;
      w.waited += this.tickMs;
      w.taken += taken;
      if (w.waited < this.windowMs) continue;
      const rate = (w.taken * 1000) / w.waited;
      if (rate < this.minRate) this.cut(w, rate);
      w.waited = 0;
      w.taken = 0;
    }
  }

  private cut(w: Watched, rate: number): void {
    w.cut = true;
    const req = w.res.req;
    this.report.exceeded(
      "minSendRate",
      "info",
      { path: req.url, ip: req.socket.remoteAddress, rate: Math.round(rate) },
      "response cut: client reads too slowly",
    );
    w.res.destroy();
  }
}
