// A client on a raw socket (node:net) for tests of malformed or hostile HTTP that no client library would send: it
// sends exactly the bytes it is given, as slowly as it is told, and records what came back and when the server
// closed the connection. `rawExchange` is the one-shot form, its answer split into responses.
import { connect, type Socket } from "node:net";

export interface Closed {
  /** Everything the server sent. */
  bytes: Buffer;
  /** The same, as text (latin1: byte for byte). */
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
        const bytes = Buffer.concat(this.chunks);
        const text = bytes.toString("latin1");
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        const body = text.slice(text.indexOf("\r\n\r\n") + 4);
        resolve({ bytes, text, status, body, ms: performance.now() - started });
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

  send(data: string | Buffer): void {
    if (this.socket.writable) this.socket.write(data);
  }

  /** Half-closes the connection (`shutdown(SHUT_WR)`): no more bytes from this side, the answer still comes. */
  end(): void {
    this.socket.end();
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

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawExchange {
  responses: RawResponse[];
  /** Bytes after the last whole response (a cut body shows here). */
  rest: Buffer;
  /** The server closed the connection (rather than the test's timeout). */
  closed: boolean;
}

/**
 * Writes `data` as is on a fresh connection (then half-closes it when `halfClose`), reads until the server closes
 * or `timeoutMs` passes, and splits what came back into responses.
 */
export async function rawExchange(
  url: string,
  data: string | Buffer,
  { halfClose = false, timeoutMs = 5_000 } = {},
): Promise<RawExchange> {
  const c = await RawConnection.open(url);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    c.close();
  }, timeoutMs);
  c.send(data);
  if (halfClose) c.end();
  const { bytes } = await c.closed;
  clearTimeout(timer);
  return { ...parseResponses(bytes), closed: !timedOut };
}

/** Splits HTTP/1.1 responses, sized by Content-Length or chunked (trailers aside). */
export function parseResponses(buf: Buffer): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf("\r\n\r\n", at);
    if (end < 0) break;
    const [statusLine = "", ...lines] = buf.subarray(at, end).toString("latin1").split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
    if (!status) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 100))}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const body = headers["transfer-encoding"]?.includes("chunked")
      ? chunked(buf, end + 4)
      : sized(buf, end + 4, Number(headers["content-length"] ?? 0));
    if (!body) break;
    responses.push({ status: Number(status), headers, body: body.body });
    at = body.next;
  }
  return { responses, rest: buf.subarray(at) };
}

type Body = { body: Buffer; next: number } | undefined;

function sized(buf: Buffer, start: number, length: number): Body {
  return buf.length < start + length
    ? undefined
    : { body: buf.subarray(start, start + length), next: start + length };
}

function chunked(buf: Buffer, start: number): Body {
  const parts: Buffer[] = [];
  for (let at = start; ; ) {
    const eol = buf.indexOf("\r\n", at);
    if (eol < 0) return undefined;
    const size = Number.parseInt(buf.subarray(at, eol).toString("latin1"), 16);
    if (Number.isNaN(size) || buf.length < eol + 2 + size + 2) return undefined;
    if (size === 0) return { body: Buffer.concat(parts), next: eol + 4 };
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}
