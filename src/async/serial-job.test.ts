import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { SerialJob } from "./serial-job.js";

/** A job whose runs wait for `release()`, and which records overlaps. */
function gatedJob() {
  let runs = 0;
  let active = 0;
  let maxActive = 0;
  const gates: (() => void)[] = [];
  const errors: Error[] = [];
  const job = new SerialJob(
    async () => {
      const n = ++runs;
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise<void>((ok) => gates.push(ok));
      active--;
      return n;
    },
    (err) => errors.push(err),
  );
  const release = async () => {
    while (gates.length === 0) await sleep(1);
    gates.shift()?.();
  };
  return { job, release, errors, stats: () => ({ runs, maxActive }) };
}

describe("SerialJob", () => {
  it("never runs twice at once: calls during a run share one more run", async () => {
    const { job, release, stats } = gatedJob();
    const first = job.run();
    const second = job.run();
    const third = job.run();
    job.trigger();
    await release();
    assert.equal(await first, 1);
    await release();
    assert.equal(await second, 2);
    assert.equal(await third, 2, "queued callers share the one queued run");
    assert.deepEqual(stats(), { runs: 2, maxActive: 1 });
  });

  it("runs on its timer, and stop() ends the timer and waits for the run under way", async () => {
    const { job, release, stats } = gatedJob();
    job.every(5);
    await sleep(30);
    assert.equal(stats().runs, 1, "one run, the timer's later triggers queued behind it");
    const stopped = job.stop();
    await release();
    await stopped;
    const runs = stats().runs;
    await sleep(30);
    assert.equal(runs, 1, "the queued run is dropped");
    assert.equal(stats().runs, runs, "no run after stop()");
    await assert.rejects(job.run(), /stopped/);
  });

  it("reports a failed background run", async () => {
    const errors: Error[] = [];
    const job = new SerialJob(
      () => Promise.reject(new Error("disk on fire")),
      (err) => errors.push(err),
    );
    job.trigger();
    await sleep(5);
    assert.deepEqual(
      errors.map((e) => e.message),
      ["disk on fire"],
    );
    await assert.rejects(job.run(), /disk on fire/);
  });
});
