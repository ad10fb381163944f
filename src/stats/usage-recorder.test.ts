import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SqliteStore } from "../metadata/sqlite-store.js";
import type { UsageStore } from "../metadata/store.js";
import { DAY, HOUR, MINUTE } from "./buckets.js";
import { OPEN_KEPT, TOP_KEPT, type UsageEvent, UsageRecorder } from "./usage-recorder.js";
import { usageReport } from "./usage-report.js";

const MiB = 1 << 20;
/** 23:58:30 UTC on the last day of January: the next minutes cross an hour, a day and a month. */
const T0 = Date.UTC(2026, 0, 31, 23, 58, 30);

function event(set: Partial<UsageEvent> = {}): UsageEvent {
  return {
    at: T0,
    registry: "docker.io",
    repo: "library/alpine",
    reference: "3.20",
    kind: "manifest",
    head: false,
    result: "hit",
    status: 200,
    bytes: 100,
    ms: 1,
    client: "docker",
    user: undefined,
    pull: false,
    ...set,
  };
}

function setup(store: UsageStore = new SqliteStore(":memory:")) {
  const recorder = new UsageRecorder(store);
  return {
    store,
    recorder,
    report: (range: "1h" | "24h" | "30d" | "1y", now: number) => usageReport(store, recorder, range, now),
  };
}

describe("usage recorder", () => {
  it("counts a request in its minute, hour, day and month, across each boundary", async () => {
    const { store, recorder, report } = setup();
    recorder.record(event({ pull: true }));
    recorder.record(
      event({
        at: T0 + MINUTE,
        kind: "blob",
        result: "miss",
        bytes: 2 * MiB,
        ms: 1000,
        client: "containerd",
      }),
    );
    recorder.record(
      event({ at: T0 + 2 * MINUTE, kind: "blob", result: "hit", bytes: 4 * MiB, ms: 500, client: "podman" }),
    );
    recorder.upstreamBytes(2 * MiB, T0 + MINUTE);
    await recorder.flush(T0 + 2 * MINUTE + 5000);

    const pulls = async (grain: "minute" | "hour" | "day" | "month") =>
      (await store.usageSeries(grain, 0, 4e12)).map((r) => [
        new Date(r.t).toISOString(),
        r.figures.manifestRequests + r.figures.blobRequests,
      ]);
    assert.deepEqual(await pulls("minute"), [
      ["2026-01-31T23:58:00.000Z", 1],
      ["2026-01-31T23:59:00.000Z", 1],
      ["2026-02-01T00:00:00.000Z", 1],
    ]);
    assert.deepEqual(await pulls("hour"), [
      ["2026-01-31T23:00:00.000Z", 2],
      ["2026-02-01T00:00:00.000Z", 1],
    ]);
    assert.deepEqual(await pulls("day"), [
      ["2026-01-31T00:00:00.000Z", 2],
      ["2026-02-01T00:00:00.000Z", 1],
    ]);
    assert.deepEqual(await pulls("month"), [
      ["2026-01-01T00:00:00.000Z", 2],
      ["2026-02-01T00:00:00.000Z", 1],
    ]);

    const now = T0 + 3 * MINUTE;
    for (const [range, length, bucketMs] of [
      ["1h", 60, MINUTE],
      ["24h", 24, HOUR],
      ["30d", 30, DAY],
      ["1y", 12, null],
    ] as const) {
      const r = await report(range, now);
      assert.equal(r.series.length, length, range);
      assert.equal(r.bucketMs, bucketMs, range);
      assert.equal(r.to, (r.series.at(-1)?.t ?? 0) + (bucketMs ?? 28 * DAY), range);
      assert.equal(r.from, r.series[0]?.t, range);
      assert.deepEqual(
        { ...r.totals, hitRatio: r.totals.hitRatio },
        {
          pulls: 1,
          manifestRequests: 1,
          blobRequests: 2,
          servedBytes: 100 + 6 * MiB,
          upstreamBytes: 2 * MiB,
          savedBytes: 100 + 4 * MiB,
          hits: 2,
          misses: 1,
          hitRatio: 0.6667,
          avgSpeed: 4 * MiB, // 6 MiB in 1.5 s
          peakSpeed: 8 * MiB,
          results: { hit: 2, miss: 1, joined: 0, redirect: 0, stale: 0 },
        },
        range,
      );
      assert.deepEqual(r.clients, { docker: 1, containerd: 1, podman: 1, kubelet: 0, other: 0 }, range);
      assert.deepEqual(r.topImages.byPulls, [
        { image: "docker.io/library/alpine", pulls: 1, bytes: 100 + 6 * MiB },
      ]);
    }
    const day = await report("30d", now);
    assert.deepEqual(
      day.series.slice(-2).map((b) => [b.blobRequests, b.peakSpeed]),
      [
        [1, 2 * MiB],
        [1, 8 * MiB],
      ],
    );
  });

  it("answers a range with no traffic with every bucket, zeros and a null hit ratio", async () => {
    const { report } = setup();
    const now = T0;
    const r = await report("24h", now);
    assert.equal(r.series.length, 24);
    assert.equal(r.to - r.from, 24 * HOUR);
    assert.equal(r.series[23]?.t, Date.UTC(2026, 0, 31, 23));
    assert.ok(r.series.every((b, i) => b.t === r.from + i * HOUR && b.pulls === 0 && b.hitRatio === null));
    assert.equal(r.totals.hitRatio, null);
    assert.equal(r.totals.avgSpeed, 0);
    assert.deepEqual(r.topImages, { byPulls: [], byBytes: [] });
  });

  it("counts recorded and written requests once each, also when a flush runs during a read", async () => {
    const { recorder, report } = setup();
    recorder.record(event({ pull: true }));
    await recorder.flush(T0);
    recorder.record(event({ pull: true, at: T0 + 1000 }));
    assert.equal((await report("1h", T0 + 2000)).totals.pulls, 2, "one written, one in memory");
    recorder.record(event({ pull: true, at: T0 + 2000 }));
    const [during] = await Promise.all([report("1h", T0 + 3000), recorder.flush(T0 + 3000)]);
    assert.equal(during.totals.pulls, 3);
    recorder.record(event({ pull: true, at: T0 + 3000 }));
    const [, after] = await Promise.all([recorder.flush(T0 + 4000), report("1h", T0 + 4000)]);
    assert.equal(after.totals.pulls, 4);
  });

  it("times only blob downloads of at least 1 MiB that completed", async () => {
    const { recorder, report } = setup();
    const blob = (set: Partial<UsageEvent>) => event({ kind: "blob", result: "hit", ...set });
    assert.equal(recorder.record(blob({ bytes: MiB - 1, ms: 0.01 })), undefined, "too small to time");
    assert.equal(recorder.record(blob({ bytes: 2 * MiB, ms: 1000 })), 2 * MiB);
    assert.equal(recorder.record(blob({ bytes: MiB, ms: 250, status: 206 })), 4 * MiB);
    assert.equal(recorder.record(blob({ bytes: 8 * MiB, ms: 1, status: 499 })), undefined, "client left");
    assert.equal(recorder.record(event({ bytes: 4 * MiB, ms: 1 })), undefined, "not a blob");
    const { totals } = await report("1h", T0);
    assert.equal(totals.avgSpeed, Math.round((3 * MiB) / 1.25));
    assert.equal(totals.peakSpeed, 4 * MiB);
  });

  it("counts hits (hit, redirect, stale) and misses (miss, joined) over the requests the cache answered", async () => {
    const { recorder, report } = setup();
    for (const result of ["hit", "redirect", "stale", "miss", "joined", undefined] as const)
      recorder.record(event({ result, status: result ? 200 : 404 }));
    const { totals } = await report("1h", T0);
    assert.deepEqual([totals.hits, totals.misses, totals.hitRatio, totals.manifestRequests], [3, 2, 0.6, 6]);
  });

  it("drops each grain's buckets past its retention, months never", async () => {
    const { store, recorder } = setup();
    const now = T0;
    for (const age of [3 * HOUR, 50 * HOUR, 401 * DAY]) recorder.record(event({ at: now - age }));
    recorder.record(event({ at: now }));
    await recorder.flush(now);
    const count = async (grain: "minute" | "hour" | "day" | "month") =>
      (await store.usageSeries(grain, 0, 4e12)).length;
    assert.equal(await count("minute"), 1, "2 h of minutes");
    assert.equal(await count("hour"), 2, "48 h of hours: now and 3 h ago");
    assert.equal(await count("day"), 2, "400 days: today (now and 3 h ago) and 50 h ago");
    assert.equal(await count("month"), 2, "every month: this one and 401 days ago");
  });

  it("keeps the top images of each bucket by pulls and by bytes", async () => {
    const { store, recorder } = setup();
    const m1 = T0 - 70 * MINUTE; // the hour before T0's
    for (let i = 1; i <= TOP_KEPT + 50; i++) {
      for (let p = 0; p < i; p++) recorder.record(event({ at: m1, repo: `r/${i}`, pull: true, bytes: 1 }));
    }
    recorder.record(event({ at: m1, repo: "big", pull: true, bytes: 10 * MiB }));
    await recorder.flush(T0);
    const images = await store.usageImages("minute", m1 - (m1 % MINUTE), T0);
    const names = new Set(images.map((i) => i.image));
    assert.equal(images.length, TOP_KEPT + 1, "the top 100 by pulls, and the top by bytes");
    assert.ok(names.has("docker.io/big"), "the biggest by bytes, pulled once");
    assert.ok(names.has(`docker.io/r/${TOP_KEPT + 50}`));
    assert.ok(!names.has("docker.io/r/50"), "pulled 50 times: 101st");

    // The open bucket (this hour) keeps its long tail up to OPEN_KEPT.
    for (let i = 1; i <= OPEN_KEPT + 20; i++)
      recorder.record(event({ at: T0, repo: `o/${i}`, pull: true, bytes: i }));
    await recorder.flush(T0 + MINUTE);
    const hour = Date.UTC(2026, 0, 31, 23);
    const open = await store.usageImages("hour", hour, hour + HOUR);
    assert.ok(open.length >= OPEN_KEPT && open.length < OPEN_KEPT + 20, String(open.length));
  });

  it("keeps the minutes of a failed write for the next flush", async () => {
    const sqlite = new SqliteStore(":memory:");
    let fail = true;
    const flaky: UsageStore = {
      ...(Object.fromEntries(
        (["usageSeries", "usageImages", "pruneUsage", "trimUsageImages"] as const).map((m) => [
          m,
          sqlite[m].bind(sqlite),
        ]),
      ) as Omit<UsageStore, "addUsage">),
      addUsage: async (b) => {
        if (fail) throw new Error("disk full");
        return sqlite.addUsage(b);
      },
    };
    const { recorder, report } = setup(flaky);
    recorder.record(event({ pull: true }));
    await assert.rejects(recorder.flush(T0), /disk full/);
    recorder.record(event({ pull: true, at: T0 + 1000 }));
    assert.equal((await report("1h", T0 + 1000)).totals.pulls, 2);
    fail = false;
    await recorder.flush(T0 + 2000);
    assert.equal((await sqlite.usageSeries("minute", 0, 4e12))[0]?.figures.pulls, 2);
    assert.equal((await report("1h", T0 + 2000)).totals.pulls, 2);
  });

  it("keeps the last 50 requests, newest first", () => {
    const { recorder } = setup();
    for (let i = 0; i < 60; i++) recorder.record(event({ reference: String(i) }));
    const recent = recorder.recent();
    assert.equal(recent.length, 50);
    assert.equal(recent[0]?.reference, "59");
    assert.equal(recent[49]?.reference, "10");
  });
});
