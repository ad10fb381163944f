import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { quietLog, reply, type TestServer, testServer } from "../../test/fakes/test-upstream.js";
import { RegistryError } from "../errors/oci-errors.js";
import { Metrics } from "../metrics/metrics.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { RegistryClient } from "./registry-client.js";

/** UPSTREAM_UNAVAILABLE; with `retryAfter`, the fail-fast kind that says when to come back. */
const unavailable = (retryAfter?: string) => (err: unknown) =>
  err instanceof RegistryError &&
  err.code === "UPSTREAM_UNAVAILABLE" &&
  err.headers["Retry-After"] === retryAfter;

describe("circuit breaker", () => {
  let registry: TestServer;
  /** While set, the registry accepts requests and never answers. */
  let hang = true;

  before(async () => {
    registry = await testServer((_req, res) => {
      if (!hang) reply(res, 200, {}, "[]");
    });
  });
  after(() => registry.close());

  it("opens after N failures, fails fast with Retry-After, and a successful probe closes it", async () => {
    const metrics = new Metrics();
    const client = new RegistryClient(
      {
        registry: "hub",
        url: registry.url,
        connectTimeout: 1_000,
        headersTimeout: 100,
        bodyTimeout: 1_000,
        retries: 0,
        breaker: { failures: 2, openForMs: 300 },
      },
      metrics,
      quietLog,
    );
    const tags = () => client.request("tags", "GET", "r", "tags/list");
    try {
      for (let i = 0; i < 2; i++) await assert.rejects(tags(), unavailable());
      assert.equal(client.state, "down");
      assert.equal(await metrics.value("hubmirror_upstream_state", { registry: "hub" }), 1);

      const seen = registry.seen.length;
      const started = performance.now();
      await assert.rejects(tags(), unavailable("1"));
      assert.ok(performance.now() - started < 50, "failed at once instead of waiting for a timeout");
      assert.equal(registry.seen.length, seen, "nothing was sent");

      hang = false;
      await sleep(320);
      const res = await tags();
      assert.equal(res.status, 200);
      await res.body.dump();
      assert.equal(client.state, "up");
      assert.equal(await metrics.value("hubmirror_upstream_state", { registry: "hub" }), 0);
    } finally {
      await client.close();
    }
  });

  it("lets one probe through when half-open; its failure reopens the circuit", () => {
    let now = 0;
    const b = new CircuitBreaker("hub", { failures: 3, openForMs: 10_000 }, () => now);
    for (let i = 0; i < 2; i++) b.settle(b.admit(), "failed");
    b.settle(b.admit(), "ok");
    for (let i = 0; i < 2; i++) b.settle(b.admit(), "failed");
    assert.equal(b.state, "closed", "failures must be consecutive");
    b.settle(b.admit(), "failed");
    assert.equal(b.state, "open");
    now = 4_200;
    assert.throws(() => b.admit(), unavailable("6"));

    now = 10_000;
    assert.equal(b.state, "half-open");
    assert.equal(b.admit(), true, "the probe");
    assert.throws(() => b.admit(), unavailable("1"), "one probe at a time");
    b.settle(true, "failed");
    assert.equal(b.state, "open");
    now = 20_000;
    const probe = b.admit();
    b.settle(probe, undefined);
    assert.equal(b.state, "half-open", "an aborted probe leaves room for another");
    b.settle(b.admit(), "ok");
    assert.equal(b.state, "closed");
  });
});
