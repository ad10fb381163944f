import type { Server } from "node:http";
import type { Socket } from "node:net";
import { Server as TlsServer } from "node:tls";

/**
 * Tracks in-flight requests per connection so shutdown can close every connection not serving one, including
 * those that connected but never sent a request, which `server.closeIdleConnections()` leaves open.
 */
export class ConnectionTracker {
  private readonly active = new Map<Socket, number>();
  private draining = false;

  constructor(server: Server) {
    // An https server's requests ride on the TLS socket it emits once the handshake is done, not on the raw one.
    const connected = server instanceof TlsServer ? "secureConnection" : "connection";
    server.on(connected, (socket: Socket) => {
      this.active.set(socket, 0);
      socket.once("close", () => this.active.delete(socket));
    });
    server.on("request", (req, res) => {
      const socket = req.socket;
      this.active.set(socket, (this.active.get(socket) ?? 0) + 1);
      res.once("close", () => {
        const n = (this.active.get(socket) ?? 1) - 1;
        this.active.set(socket, n);
        if (this.draining && n === 0) socket.destroy();
      });
    });
  }

  /** Closes idle connections now, and each busy one as soon as its response is done. */
  drain(): void {
    this.draining = true;
    for (const [socket, n] of this.active) if (n === 0) socket.destroy();
  }
}
