import type { Server } from "node:http";
import type { Socket } from "node:net";
import { Server as TlsServer } from "node:tls";
import { answerAndClose, rawError } from "../http/raw-response.js";
import type { LimitReporter } from "./report.js";

/** What a refused client is told to wait before trying again. */
const RETRY_AFTER_S = "5";

/**
 * Caps the open connections overall and per client address. A connection over a cap is answered (503 overall,
 * 429 for its address) and closed before the server parses anything on it, so it costs no request handling.
 */
export class ConnectionLimiter {
  private open = 0;
  private readonly perIp = new Map<string, number>();
  private readonly full: Buffer;
  private readonly fullForIp: Buffer;

  constructor(
    private readonly max: number,
    private readonly maxPerIp: number,
    private readonly report: LimitReporter,
  ) {
    const retry = { "Retry-After": RETRY_AFTER_S };
    this.full = rawError("UNAVAILABLE", "too many connections: try again later", retry);
    this.fullForIp = rawError("TOOMANYREQUESTS", "too many connections from your address", retry);
  }

  /**
   * Puts the gate in front of the server's own handling of a new connection: `connection` for HTTP, and for
   * HTTPS `secureConnection`, where its HTTP handling starts (TLS handshakes are bounded by their own timeout).
   */
  attach(server: Server): void {
    const event = server instanceof TlsServer ? "secureConnection" : "connection";
    const handlers = server.listeners(event) as ((socket: Socket) => void)[];
    server.removeAllListeners(event);
    server.on(event, (socket: Socket) => {
      if (this.admit(socket)) for (const handle of handlers) handle.call(server, socket);
    });
  }

  private admit(socket: Socket): boolean {
    const ip = socket.remoteAddress;
    if (ip === undefined) {
      // Gone already (reset right after the handshake).
      socket.destroy();
      return false;
    }
    if (this.open >= this.max) {
      this.report.exceeded(
        "maxConnections",
        "warn",
        { ip, max: this.max },
        "connection refused: server full",
      );
      this.refuse(socket, this.full);
      return false;
    }
    const n = this.perIp.get(ip) ?? 0;
    if (n >= this.maxPerIp) {
      this.report.exceeded(
        "maxConnectionsPerIp",
        "info",
        { ip, max: this.maxPerIp },
        "connection refused: too many from one address",
      );
      this.refuse(socket, this.fullForIp);
      return false;
    }
    this.open++;
    this.perIp.set(ip, n + 1);
    socket.once("close", () => {
      this.open--;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
    });
    return true;
  }

  private refuse(socket: Socket, answer: Buffer): void {
    // Nothing parses this socket: what the client sends is read and dropped until it closes.
    socket.resume();
    answerAndClose(socket, answer);
  }
}
