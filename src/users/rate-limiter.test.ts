import assert from "node:assert/strict";
import { it } from "node:test";
import { RateLimiter } from "./rate-limiter.js";

it("lets a burst of perMinute through, then one request per 60/perMinute seconds", () => {
  const limiter = new RateLimiter();
  const t0 = 1_000_000;
  for (let i = 0; i < 5; i++) assert.equal(limiter.take("k", 5, t0), 0, `request ${i + 1}`);
  assert.equal(limiter.take("k", 5, t0), 12_000, "the sixth waits 12 s");
  assert.equal(limiter.take("k", 5, t0 + 6_000), 6_000, "a refused request takes nothing");
  assert.equal(limiter.take("k", 5, t0 + 12_000), 0);
  assert.equal(limiter.take("k", 5, t0 + 12_000), 12_000);
  assert.equal(limiter.take("other", 5, t0), 0, "keys are independent");
});

it("wait() tells without taking", () => {
  const limiter = new RateLimiter();
  assert.equal(limiter.wait("k", 1, 0), 0);
  assert.equal(limiter.wait("k", 1, 0), 0);
  assert.equal(limiter.take("k", 1, 0), 0);
  assert.equal(limiter.wait("k", 1, 30_000), 30_000);
});

it("forgets the least recently used keys past its bound", () => {
  const limiter = new RateLimiter(2);
  limiter.take("a", 1, 0);
  limiter.take("b", 1, 0);
  limiter.take("c", 1, 0);
  assert.equal(limiter.take("b", 1, 0), 60_000, "b is remembered");
  assert.equal(limiter.take("a", 1, 0), 0, "a was forgotten: full again");
});
