import { connect } from "node:net";

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
 * Writes `data` as is on a fresh TCP connection (then half-closes it, `shutdown(SHUT_WR)`, when `halfClose`), reads
 * until the server closes or `timeoutMs` passes, and splits what came back into responses. For malformed HTTP that
 * no client library would send.
 */
export function rawExchange(
  url: string,
  data: string | Buffer,
  { halfClose = false, timeoutMs = 5_000 } = {},
): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let closed = true;
    const socket = connect(Number(port), hostname, () => {
      socket.write(data);
      if (halfClose) socket.end();
    });
    const timer = setTimeout(() => {
      closed = false;
      socket.destroy();
    }, timeoutMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    // A reset after the answer still leaves the answer: what was read is what the client got.
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      try {
        resolve({ ...parseResponses(Buffer.concat(chunks)), closed });
      } catch (err) {
        reject(err);
      }
    });
  });
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
