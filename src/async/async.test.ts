import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoff, backoffDelay } from "./backoff.js";
import { SingleFlight } from "./single-flight.js";

describe("SingleFlight", () => {
  it("shares one operation per key and frees the key once it settles", async () => {
    const f = new SingleFlight<string, number>();
    let started = 0;
    const op = () => Promise.resolve(++started);
    const a = f.run("k", op);
    const b = f.run("k", op);
    assert.equal(a.joined, false);
    assert.equal(b.joined, true);
    assert.equal(await a.value, 1);
    assert.equal(await b.value, 1);
    await f.idle();
    assert.equal(f.size, 0);
    assert.equal(await f.do("k", op), 2);
    assert.equal(await f.do("other", op), 3);
  });

  it("frees the key after a failure", async () => {
    const f = new SingleFlight<string, number>();
    await assert.rejects(f.do("k", () => Promise.reject(new Error("no"))));
    assert.equal(f.get("k"), undefined);
  });

  it("keeps the key until `until` settles", async () => {
    const f = new SingleFlight<string, { done: Promise<void> }>();
    let finish!: () => void;
    const done = new Promise<void>((ok) => {
      finish = ok;
    });
    const first = f.run(
      "k",
      async () => ({ done }),
      (v) => v.done,
    );
    await first.value;
    assert.equal(f.run("k", async () => ({ done: Promise.resolve() })).joined, true);
    finish();
    await f.idle();
    assert.equal(f.size, 0);
  });
});

describe("backoff", () => {
  it("doubles from the base up to the cap, jitter at most halving it", () => {
    const p = { baseMs: 100, maxMs: 1000 };
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((a) => backoffDelay(a, p)),
      [100, 200, 400, 800, 1000],
    );
    for (let i = 0; i < 50; i++) {
      const ms = backoffDelay(2, { ...p, jitter: true });
      assert.ok(ms >= 200 && ms <= 400, String(ms));
    }
  });

  it("stops waiting when aborted", async () => {
    const ac = new AbortController();
    const wait = backoff(0, { baseMs: 60_000, maxMs: 60_000 }, ac.signal);
    ac.abort();
    await assert.rejects(wait, { name: "AbortError" });
  });
});
