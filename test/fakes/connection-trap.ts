import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:net";

/** A listener that only counts the connections it accepts: configured nowhere, it proves nothing dials it. */
export class ConnectionTrap {
  accepted = 0;
  private readonly server: Server = createServer((socket) => {
    this.accepted++;
    socket.destroy();
  });

  /** `127.0.0.1:PORT`, the host a hostile request would name. */
  host = "";

  async start(): Promise<this> {
    await new Promise<void>((ok) => this.server.listen(0, "127.0.0.1", ok));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((ok) => this.server.close(() => ok()));
  }
}
