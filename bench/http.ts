// A minimal HTTP/1.1 GET client for measuring bodies: one connection per request (`Connection: close`, as dockerd
// and skopeo do), socket reads straight into one reused 1 MiB buffer (`onread`: no per-chunk allocation, no
// stream machinery), optional sha256 of the body. It times the first body byte, not just the headers.
import { createHash } from "node:crypto";
import { connect } from "node:net";

const READ_BUFFER = 1 << 20;
const HEADER_END = Buffer.from("\r\n\r\n");
const MAX_HEAD = 64 * 1024;
/** Upstream access-log lines with this agent are the bench's own requests. */
export const AGENT = "hubmirror-bench";

export interface GetOptions {
  headers?: Record<string, string>;
  /** sha256 the body (hex in the result). */
  hash?: boolean;
  timeoutMs?: number;
}

export interface GetResult {
  status: number;
  headers: Record<string, string>;
  /** Body bytes received. */
  bytes: number;
  /** From the start (before connecting) to the end of the response headers. */
  headersMs: number;
  /** From the start to the first body byte; the whole time when the body is empty. */
  ttfbMs: number;
  totalMs: number;
  sha256?: string;
}

function parseHead(head: string): { status: number; headers: Record<string, string> } {
  const [statusLine = "", ...lines] = head.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`bad status line: ${statusLine.slice(0, 100)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: Number(m[1]), headers };
}

export function get(url: string, opts: GetOptions = {}): Promise<GetResult> {
  const u = new URL(url);
  const started = performance.now();
  const since = () => performance.now() - started;
  return new Promise<GetResult>((resolve, reject) => {
    const hash = opts.hash ? createHash("sha256") : undefined;
    let head: Buffer | undefined = Buffer.alloc(0);
    let status = 0;
    let headers: Record<string, string> = {};
    let expected = -1; // unknown: read until the server closes
    let bytes = 0;
    let headersMs = 0;
    let ttfbMs = 0;
    let done = false;

    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) return reject(err);
      const totalMs = since();
      resolve({
        status,
        headers,
        bytes,
        headersMs,
        ttfbMs: bytes > 0 ? ttfbMs : totalMs,
        totalMs,
        ...(hash && { sha256: hash.digest("hex") }),
      });
    };
    const body = (chunk: Buffer) => {
      if (chunk.length === 0) return;
      if (bytes === 0) ttfbMs = since();
      bytes += chunk.length;
      hash?.update(chunk);
      if (expected >= 0 && bytes >= expected) {
        finish(bytes > expected ? new Error(`${url}: body longer than ${expected}`) : undefined);
      }
    };
    const receive = (n: number, buf: Uint8Array) => {
      if (done) return;
      const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
      if (!head) return body(chunk);
      const all = Buffer.concat([head, chunk]);
      const end = all.indexOf(HEADER_END);
      if (end < 0) {
        head = all;
        if (all.length > MAX_HEAD) finish(new Error(`${url}: response head too long`));
        return;
      }
      head = undefined;
      try {
        ({ status, headers } = parseHead(all.subarray(0, end).toString("latin1")));
      } catch (err) {
        return finish(err as Error);
      }
      headersMs = since();
      const length = headers["content-length"];
      if (length !== undefined && headers["transfer-encoding"] === undefined) expected = Number(length);
      if (expected === 0) return finish();
      body(all.subarray(end + HEADER_END.length));
    };

    const socket = connect({
      host: u.hostname,
      port: Number(u.port || 80),
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER),
        callback: (n, buf) => {
          receive(n, buf);
          return true; // never pause: the data is consumed synchronously
        },
      },
    });
    socket.setNoDelay(true);
    const extra = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    socket.on("connect", () => {
      socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUser-Agent: ${AGENT}\r\n` +
          `Connection: close\r\n${extra}\r\n`,
      );
    });
    socket.on("end", () => {
      if (head) return finish(new Error(`${url}: connection closed before the response head`));
      if (expected >= 0 && bytes < expected) {
        return finish(new Error(`${url}: body ended at ${bytes} of ${expected} bytes`));
      }
      finish();
    });
    socket.on("error", (err) => finish(err));
    const timer = setTimeout(
      () => finish(new Error(`${url}: no complete answer in ${opts.timeoutMs ?? 300_000} ms`)),
      opts.timeoutMs ?? 300_000,
    );
  });
}

type Expect = { want?: number; length?: number };

function expect(url: string, res: GetResult, opts: Expect): GetResult {
  const want = opts.want ?? 200;
  if (res.status !== want) throw new Error(`GET ${url}: ${res.status}, expected ${want}`);
  if (opts.length !== undefined && res.bytes !== opts.length) {
    throw new Error(`GET ${url}: ${res.bytes} bytes, expected ${opts.length}`);
  }
  return res;
}

/** GET that must answer `want` (default 200) with exactly `length` bytes when given. */
export async function getOk(url: string, opts: GetOptions & Expect = {}): Promise<GetResult> {
  return expect(url, await get(url, opts), opts);
}

/**
 * GET that follows a 307 (once) as pulling clients do — a mirror redirecting to object storage — and must end in
 * `want` with `length` bytes. Times run from the first request to the last one's first / last byte; `location`
 * is set when it was redirected.
 */
export async function getFollowing(
  url: string,
  opts: GetOptions & Expect = {},
): Promise<GetResult & { location?: string }> {
  const started = performance.now();
  const first = await get(url, opts);
  const location = first.headers.location;
  if (first.status !== 307 || location === undefined) return expect(url, first, opts);
  const followed = performance.now() - started;
  const res = await getOk(new URL(location, url).href, opts);
  return {
    ...res,
    headersMs: followed + res.headersMs,
    ttfbMs: followed + res.ttfbMs,
    totalMs: performance.now() - started,
    location,
  };
}
