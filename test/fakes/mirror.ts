import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach } from "node:test";
import { pino } from "pino";
import { Agent, type Dispatcher, request } from "undici";
import { type App, startApp } from "../../src/app.js";
import { parseConfig } from "../../src/config/load.js";
import type { ConfigInput } from "../../src/config/schema.js";
import type { Logger } from "../../src/log/logger.js";
import { fillsSettled } from "../helpers.js";
import { FakeHub } from "./fake-hub.js";

export interface InProcessMirror extends App {
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
 * hubmirror in-process (startApp) in front of `upstream`, on a free loopback port with a temp data dir (`data`
 * reuses one: a restart), for fast tests; `log` replaces the silent logger (to read the access log).
 * test/mirror-process.ts startMirrorProcess runs it as a child process.
 */
export async function startInProcessMirror(
  upstream: string,
  config: ConfigInput = {},
  data?: string,
  log: Logger = pino({ level: process.env.TEST_LOG ?? "silent" }),
): Promise<InProcessMirror> {
  const dir = data ?? (await mkdtemp(join(tmpdir(), "hubmirror-test-")));
  const app = await startApp(
    parseConfig({
      ...config,
      listen: "127.0.0.1:0",
      data: dir,
      upstream: { retries: 1, ...config.upstream, url: upstream },
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
    settled: () => fillsSettled(() => app.metrics.value("hubmirror_blob_fills_in_flight")),
    async stop() {
      await app.close();
      if (!data) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface HubAndMirror {
  hub: FakeHub;
  mirror: InProcessMirror;
}

/**
 * A FakeHub and an in-process mirror in front of it, started before the suite's tests and stopped after them; with
 * `resetHub`, each test starts with the hub's faults cleared and its throttle off, whatever the last one left.
 */
export function useHubAndMirror(config: ConfigInput = {}, { resetHub = false } = {}): HubAndMirror {
  const env = {} as HubAndMirror;
  before(async () => {
    env.hub = await new FakeHub().start();
    env.mirror = await startInProcessMirror(env.hub.url, config);
  });
  after(async () => {
    await env.mirror?.stop();
    await env.hub?.stop();
  });
  if (resetHub) {
    beforeEach(() => {
      env.hub.clearFaults();
      env.hub.throttle = 0;
    });
  }
  return env;
}
