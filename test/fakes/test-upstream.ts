import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { Agent, type Dispatcher } from "undici";
import type { UpstreamDispatchOptions } from "../../src/upstream/dispatch-options.js";

/** What the transport's unit tests need: an in-process server that records what reached it. */
export interface TestServer {
  url: string;
  /** Every request, as it arrived. */
  seen: { method: string; path: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export const quietLog = pino({ level: process.env.TEST_LOG ?? "silent" });

export async function testServer(route: Route): Promise<TestServer> {
  const seen: TestServer["seen"] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    seen.push({ method: req.method ?? "", path: url.pathname, authorization: req.headers.authorization });
    Promise.resolve(route(req, res, url)).catch(() => res.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

/** A fresh pool, so one test's keep-alive connections can't mask another's connection drops. */
export function testAgent(): Agent {
  return new Agent({ connect: { timeout: 2_000 }, headersTimeout: 5_000, bodyTimeout: 5_000 });
}

export interface Fetched {
  status: number;
  body: string;
}

/** A GET (or HEAD) to `url` through `dispatcher`, its body read whole. */
export async function fetchVia(
  dispatcher: Dispatcher,
  url: string,
  o: Omit<UpstreamDispatchOptions, "origin" | "path" | "method"> & {
    method?: "GET" | "HEAD";
    signal?: AbortSignal;
  } = {},
): Promise<Fetched> {
  const u = new URL(url);
  const opts = { method: "GET" as const, ...o, origin: u.origin, path: u.pathname + u.search };
  const res = await dispatcher.request(opts);
  return { status: res.statusCode, body: await res.body.text() };
}

/** Ends a response with `status` and a small body. */
export function reply(
  res: ServerResponse,
  status: number,
  headers: Record<string, string> = {},
  body = "",
): void {
  res.writeHead(status, { "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}
