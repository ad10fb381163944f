import type { Server, ServerOptions } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Limits } from "../config/limits-schema.js";
import type { Middleware } from "../http/compose.js";
import type { RequestContext } from "../http/context.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { ConnectionLimiter } from "./connection-limiter.js";
import { type LimitName, LimitReporter } from "./report.js";
import { requestDeadline } from "./request-deadline.js";
import { SendRateWatchdog } from "./send-rate.js";

/** Node's parser errors that are limits being hit. */
const PARSE_LIMITS: Record<string, { name: LimitName; msg: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { name: "headerTimeout", msg: "connection cut: request head too slow" },
  HPE_HEADER_OVERFLOW: { name: "maxHeaderSize", msg: "request refused: head too large" },
};

/** The limits against slow and greedy clients, at the three places they act: server options, sockets, requests. */
export class ClientLimits {
  private readonly report: LimitReporter;
  private readonly watchdog: SendRateWatchdog | undefined;

  constructor(
    private readonly limits: Limits,
    metrics: Metrics,
    log: Logger,
  ) {
    this.report = new LimitReporter(metrics, log);
    const { minSendRate, sendRateWindow } = limits;
    if (minSendRate > 0 && sendRateWindow > 0)
      this.watchdog = new SendRateWatchdog(minSendRate, sendRateWindow, this.report);
  }

  /**
   * Node's own timers. Its requestTimeout (the time to receive a whole request) stays off: requestDeadline bounds
   * the answer instead. headersTimeout must then be set: its default is min(60 s, requestTimeout), 0 here, which
   * would let a slow request head hold its connection for ever. Node checks it every connectionsCheckingInterval,
   * so a slow head is cut between headerTimeout and a quarter of it later (a second at most).
   */
  serverOptions(): ServerOptions {
    const { headerTimeout, idleTimeout, maxHeaderSize } = this.limits;
    return {
      requestTimeout: 0,
      headersTimeout: headerTimeout,
      connectionsCheckingInterval: headerTimeout > 0 ? Math.min(1000, Math.ceil(headerTimeout / 4)) : 1000,
      keepAliveTimeout: idleTimeout,
      maxHeaderSize,
    };
  }

  /** The request layers: the answer's deadline, then the body's send rate (each unless turned off with 0). */
  layers(): Middleware<RequestContext>[] {
    const { requestTimeout } = this.limits;
    return [
      ...(requestTimeout > 0 ? [requestDeadline(requestTimeout, this.report)] : []),
      ...(this.watchdog ? [this.watchdog.layer] : []),
    ];
  }

  /**
   * Reports a request head refused for a limit (Node's parser error `code`); the answer is client-errors.ts's.
   * False for any other parser error.
   */
  parseError(code: string, socket: Duplex): boolean {
    const limit = PARSE_LIMITS[code];
    if (!limit) return false;
    this.report.exceeded(limit.name, "info", { ip: (socket as Socket).remoteAddress }, limit.msg);
    return true;
  }

  /** The socket limits: connection caps, idle keep-alive connections closed. */
  attach(server: Server): void {
    const { maxConnections, maxConnectionsPerIp } = this.limits;
    new ConnectionLimiter(maxConnections, maxConnectionsPerIp, this.report).attach(server);
    // Only the keep-alive timer sets a socket timeout (server.timeout is 0): listening takes over closing.
    server.on("timeout", (socket: Socket) => {
      this.report.exceeded("idleTimeout", "debug", { ip: socket.remoteAddress }, "idle connection closed");
      socket.destroy();
    });
    const watchdog = this.watchdog;
    if (watchdog) {
      server.on("listening", () => watchdog.start());
      server.on("close", () => watchdog.stop());
    }
  }
}
