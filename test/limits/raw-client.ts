// A client on a raw socket (node:net) for the limits' tests: it sends exactly the bytes it is given, as slowly as
// it is told, and records what came back and when the server closed the connection.
import { connect, type Socket } from "node:net";

export interface Closed {
  /** Everything the server sent. */
  text: string;
  /** Status of the first answer, 0 if none. */
  status: number;
  /** The first answer's body. */
  body: string;
  /** From connect to close. */
  ms: number;
}

export class RawConnection {
  /** Resolves once the server (or an error) closed the connection. */
  readonly closed: Promise<Closed>;
  private readonly chunks: Buffer[] = [];
  private trickling: NodeJS.Timeout | undefined;

  private constructor(
    readonly socket: Socket,
    readonly started: number,
  ) {
    socket.on("data", (d: Buffer) => this.chunks.push(d));
    // A reset after the answer is still an answer: only what arrived counts.
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        clearInterval(this.trickling);
        const text = Buffer.concat(this.chunks).toString("latin1");
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        const body = text.slice(text.indexOf("\r\n\r\n") + 4);
        resolve({ text, status, body, ms: performance.now() - started });
      }),
    );
  }

  /** Connects to the server of `url`, from `localAddress` (any 127.x.y.z on loopback) if given. */
  static open(url: string, localAddress?: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const socket = connect({ host: hostname, port: Number(port), ...(localAddress && { localAddress }) });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RawConnection(socket, started));
      });
    });
  }

  /** Everything received so far. */
  get received(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }

  send(text: string): void {
    if (this.socket.writable) this.socket.write(text);
  }

  /** Sends `text` one byte every `everyMs`, starting with the next byte, until it is all sent or the socket closes. */
  trickle(text: string, everyMs: number): void {
    let i = 0;
    this.trickling = setInterval(() => {
      if (i >= text.length || !this.socket.writable) return clearInterval(this.trickling);
      this.socket.write(text[i++] as string);
    }, everyMs);
  }

  close(): void {
    clearInterval(this.trickling);
    this.socket.destroy();
  }
}

/** A minimal GET request head. */
export const get = (path: string, extra = ""): string =>
  `GET ${path} HTTP/1.1\r\nHost: mirror\r\n${extra}\r\n`;
