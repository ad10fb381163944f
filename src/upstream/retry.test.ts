import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Dispatcher } from "undici";
import {
  fetchVia,
  quietLog,
  reply,
  type TestServer,
  testAgent,
  testServer,
} from "../../test/fakes/test-upstream.js";
import type { BackoffPolicy } from "../async/backoff.js";
import { retry } from "./retry.js";

const FAST: BackoffPolicy = { baseMs: 5, maxMs: 10 };

describe("retry interceptor", () => {
  let server: TestServer;
  /** What the next requests to a path get, in order; then 200 "ok". */
  const script = new Map<string, ("500" | "drop" | "half")[]>();
  const hits = (path: string) => server.seen.filter((r) => r.path === path).length;

  before(async () => {
    server = await testServer((_req, res, url) => {
      const next = script.get(url.pathname)?.shift();
      if (next === "500") return reply(res, 500, {}, "busy");
      if (next === "drop") return void res.socket?.destroy();
      if (next === "half") {
        // The headers and some bytes go out, then the connection breaks.
        res.writeHead(200, { "content-length": 10 });
        res.write("01234");
        return void setTimeout(() => res.socket?.destroy(), 20);
      }
      reply(res, 200, {}, "ok");
    });
  });
  after(() => server.close());

  const client = (retries: number, policy = FAST): Dispatcher =>
    testAgent().compose(retry({ retries, policy, log: quietLog }));

  it("retries 5xx and dropped connections with backoff, up to `retries` times", async () => {
    script.set("/a", ["500", "drop", "500"]);
    assert.deepEqual(await fetchVia(client(3), `${server.url}/a`), { status: 200, body: "ok" });
    assert.equal(hits("/a"), 4);

    script.set("/b", ["500", "500", "500"]);
    assert.deepEqual(await fetchVia(client(2), `${server.url}/b`), { status: 500, body: "busy" });
    assert.equal(hits("/b"), 3, "the last 5xx is handed up");
  });

  it("doesn't retry once the body has started", async () => {
    script.set("/half", ["half"]);
    await assert.rejects(fetchVia(client(3), `${server.url}/half`));
    assert.equal(hits("/half"), 1);
  });

  it("stops at once when aborted during the backoff, sending nothing more", async () => {
    script.set("/slow", ["500"]);
    const ac = new AbortController();
    const started = Date.now();
    const res = fetchVia(client(3, { baseMs: 60_000, maxMs: 60_000 }), `${server.url}/slow`, {
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 100);
    await assert.rejects(res, { name: "AbortError" });
    assert.ok(Date.now() - started < 1_000, "didn't sit out the backoff");
    await sleep(50);
    assert.equal(hits("/slow"), 1);
  });
});
