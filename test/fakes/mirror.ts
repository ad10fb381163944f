import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Agent, type Dispatcher, request } from "undici";
import { type App, startApp } from "../../src/app.js";
import { parseConfig } from "../../src/config/load.js";
import type { ConfigInput } from "../../src/config/schema.js";
import type { Logger } from "../../src/log/logger.js";

export interface TestMirror extends App {
  data: string;
  get(
    path: string,
    headers?: Record<string, string>,
    method?: Dispatcher.HttpMethod,
  ): Promise<Dispatcher.ResponseData>;
  /** Reads a whole body, or throws when the mirror cut the connection. */
  text(
    path: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Dispatcher.ResponseData["headers"]; body: Buffer }>;
  /** Resolves once no blob download is in progress (commits included). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

const agent = new Agent({ keepAliveTimeout: 1000, connections: 128 });

/**
 * An in-process mirror on a free loopback port with a temp data dir; `data` reuses one (a restart); `log` replaces
 * the silent logger (to read the access log).
 */
export async function startMirror(
  upstreamUrl: string,
  config: ConfigInput = {},
  data?: string,
  log: Logger = pino({ level: process.env.TEST_LOG ?? "silent" }),
): Promise<TestMirror> {
  const dir = data ?? (await mkdtemp(join(tmpdir(), "hubmirror-test-")));
  const app = await startApp(
    parseConfig({
      ...config,
      listen: "127.0.0.1:0",
      data: dir,
      upstream: { retries: 1, ...config.upstream, url: upstreamUrl },
    }),
    log,
  );
  const get = (path: string, headers: Record<string, string> = {}, method: Dispatcher.HttpMethod = "GET") =>
    request(`${app.url}${path}`, { method, headers, dispatcher: agent });
  return {
    ...app,
    data: dir,
    get,
    async text(path, headers) {
      const res = await get(path, headers);
      const chunks: Buffer[] = [];
      for await (const c of res.body) chunks.push(c as Buffer);
      return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) };
    },
    async settled() {
      for (let i = 0; i < 200 && (await app.metrics.value("hubmirror_blob_fills_in_flight")) > 0; i++) {
        await new Promise((ok) => setTimeout(ok, 25));
      }
    },
    async stop() {
      await app.close();
      if (!data) await rm(dir, { recursive: true, force: true });
    },
  };
}
