import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fetchVia, quietLog, reply, type TestServer, testServer } from "../../test/fakes/test-upstream.js";
import { Metrics } from "../metrics/metrics.js";
import { createTransport, type Transport } from "./transport.js";

const SCOPE = "repository:r:pull";
const TOKEN = `Bearer tok-${SCOPE}`;

describe("composed transport", () => {
  let registry: TestServer;
  let cdn: TestServer;
  let t: Transport;
  const metrics = new Metrics();

  before(async () => {
    cdn = await testServer((_req, res, url) => {
      if (url.pathname === "/stall") {
        res.writeHead(200, { "content-length": 100 });
        return void res.write("first");
      }
      reply(res, 200, {}, "cdn bytes");
    });
    registry = await testServer((req, res, url) => {
      if (url.pathname === "/token") return reply(res, 200, {}, JSON.stringify({ token: `tok-${SCOPE}` }));
      if (req.headers.authorization !== TOKEN) {
        return reply(res, 401, { "www-authenticate": `Bearer realm="${registry.url}/token"` });
      }
      if (url.pathname === "/v2/r/blobs/same") return reply(res, 307, { location: "/v2/r/blobs/moved" });
      if (url.pathname === "/v2/r/blobs/moved") return reply(res, 200, {}, "registry bytes");
      reply(res, 307, { location: `${cdn.url}${url.pathname.replace("/v2/r/blobs", "")}?signed=1` });
    });
    const o = { registry: "hub", url: registry.url, connectTimeout: 2_000, headersTimeout: 5_000 };
    t = createTransport(
      { ...o, bodyTimeout: 5_000, retries: 2 },
      { metrics, log: quietLog, backoff: { baseMs: 5, maxMs: 10 } },
    );
  });
  after(async () => {
    await t.close();
    await registry.close();
    await cdn.close();
  });

  it("follows the redirect to the CDN without Authorization, and keeps it on the same origin", async () => {
    const blob = await fetchVia(t.dispatcher, `${registry.url}/v2/r/blobs/x`, { scope: SCOPE, kind: "blob" });
    assert.deepEqual(blob, { status: 200, body: "cdn bytes" });
    assert.deepEqual(cdn.seen.at(-1), { method: "GET", path: "/x", authorization: undefined });
    assert.equal(registry.seen.at(-1)?.authorization, TOKEN);

    const moved = await fetchVia(t.dispatcher, `${registry.url}/v2/r/blobs/same`, { scope: SCOPE });
    assert.deepEqual(moved, { status: 200, body: "registry bytes" });
    assert.deepEqual(registry.seen.at(-1), {
      method: "GET",
      path: "/v2/r/blobs/moved",
      authorization: TOKEN,
    });
    // The first blob GET: its 401, its 307 with the token, the CDN's 200.
    const count = (status: string) =>
      metrics.value("hubmirror_upstream_requests_total", { kind: "blob", status });
    assert.deepEqual(await Promise.all(["401", "307", "200"].map(count)), [1, 1, 1]);
  });

  it("fails the body at once when aborted mid-body", async () => {
    const ac = new AbortController();
    const u = new URL(`${registry.url}/v2/r/blobs/stall`);
    const opts = {
      origin: u.origin,
      path: u.pathname,
      method: "GET" as const,
      scope: SCOPE,
      signal: ac.signal,
    };
    const res = await t.dispatcher.request(opts);
    const chunks = res.body[Symbol.asyncIterator]();
    assert.equal(String((await chunks.next()).value), "first");
    const started = Date.now();
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(chunks.next(), { name: "AbortError" });
    assert.ok(Date.now() - started < 1_000);
  });
});
