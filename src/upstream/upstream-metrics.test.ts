import assert from "node:assert/strict";
import { it } from "node:test";
import { fetchVia, reply, testAgent, testServer } from "../../test/fakes/test-upstream.js";
import { Metrics } from "../metrics/metrics.js";
import { type RateLimit, upstreamMetrics } from "./upstream-metrics.js";

it("counts every request by kind, method and status (0: no answer) and notes the rate limit", async () => {
  const server = await testServer((_req, res, url) =>
    url.pathname === "/drop"
      ? void res.socket?.destroy()
      : reply(res, Number(url.pathname.slice(1)), {
          "ratelimit-limit": "100;w=21600",
          "ratelimit-remaining": "42;w=21600",
        }),
  );
  try {
    const metrics = new Metrics();
    const limits: RateLimit[] = [];
    const d = testAgent().compose(
      upstreamMetrics({ registry: "hub", metrics, onRateLimit: (r) => limits.push(r) }),
    );
    await fetchVia(d, `${server.url}/200`, { kind: "manifest" });
    await fetchVia(d, `${server.url}/404`, { kind: "blob", method: "HEAD" });
    await assert.rejects(fetchVia(d, `${server.url}/drop`, { kind: "blob" }));
    const count = (labels: Record<string, string>) =>
      metrics.value("hubmirror_upstream_requests_total", { registry: "hub", ...labels });
    assert.equal(await count({ kind: "manifest", method: "GET", status: "200" }), 1);
    assert.equal(await count({ kind: "blob", method: "HEAD", status: "404" }), 1);
    assert.equal(await count({ kind: "blob", method: "GET", status: "0" }), 1);
    assert.equal(await metrics.value("hubmirror_upstream_ratelimit_remaining"), 42);
    assert.deepEqual(limits.at(-1), { limit: 100, remaining: 42 });
  } finally {
    await server.close();
  }
});
