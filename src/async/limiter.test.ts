import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Limiter } from "./limiter.js";

/** A task that runs until `release()`; counts how many run at once. */
function gate(state: { running: number; peak: number }) {
  let release!: () => void;
  const released = new Promise<void>((ok) => {
    release = ok;
  });
  const task = async () => {
    state.peak = Math.max(state.peak, ++state.running);
    await released;
    state.running--;
  };
  return { task, release };
}

describe("Limiter", () => {
  it("runs at most `limit` tasks at once, the rest in order as slots free", async () => {
    const limiter = new Limiter(2);
    const state = { running: 0, peak: 0 };
    const gates = Array.from({ length: 5 }, () => gate(state));
    const order: number[] = [];
    const runs = gates.map((g, i) =>
      limiter.run(() => {
        order.push(i);
        return g.task();
      }),
    );
    await new Promise((ok) => setImmediate(ok));
    assert.deepEqual(order, [0, 1]);
    for (const g of gates) {
      g.release();
      await new Promise((ok) => setImmediate(ok));
    }
    await Promise.all(runs);
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
    assert.equal(state.peak, 2);
  });

  it("drops a waiting task whose signal aborts; a failing task frees its slot", async () => {
    const limiter = new Limiter(1);
    const state = { running: 0, peak: 0 };
    const g = gate(state);
    const first = limiter.run(g.task);
    const aborter = new AbortController();
    let ran = false;
    const waiting = limiter.run(async () => {
      ran = true;
    }, aborter.signal);
    aborter.abort();
    await assert.rejects(waiting, { name: "AbortError" });
    g.release();
    await first;
    assert.equal(ran, false);
    await assert.rejects(
      limiter.run(() => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await limiter.run(async () => 7), 7, "the slot was given back");
    await assert.rejects(
      limiter.run(async () => 1, aborter.signal),
      { name: "AbortError" },
    );
  });
});
