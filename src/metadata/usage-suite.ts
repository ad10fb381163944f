import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { USAGE_FIGURES, type UsageFigures, type UsageStore } from "./store.js";

/** Figures with every field 0 but those given. */
const figures = (set: Partial<UsageFigures> = {}): UsageFigures => ({
  ...(Object.fromEntries(USAGE_FIGURES.map((f) => [f, 0])) as UsageFigures),
  ...set,
});

const byImage = (a: { image: string }, b: { image: string }) => a.image.localeCompare(b.image);

/** The usage statistics every metadata store must keep alike; run by each store's test file. */
export function runUsageSuite(
  name: string,
  create: () => Promise<UsageStore & { close(): Promise<void> }>,
): void {
  describe(`metadata usage suite: ${name}`, () => {
    it("adds figures into buckets (the peak speed is the larger), per grain, and reads a range", async () => {
      const s = await create();
      await s.addUsage([
        {
          grain: "minute",
          t: 60_000,
          figures: figures({ pulls: 1, servedBytes: 10, peakSpeed: 5 }),
          images: [],
        },
        { grain: "hour", t: 0, figures: figures({ pulls: 1, servedBytes: 10, peakSpeed: 5 }), images: [] },
      ]);
      await s.addUsage([
        {
          grain: "minute",
          t: 60_000,
          figures: figures({ pulls: 2, downloadMs: 1.5, peakSpeed: 3, docker: 1 }),
          images: [],
        },
        { grain: "minute", t: 120_000, figures: figures({ hit: 4 }), images: [] },
      ]);
      assert.deepEqual(await s.usageSeries("minute", 0, 180_000), [
        {
          t: 60_000,
          figures: figures({ pulls: 3, servedBytes: 10, downloadMs: 1.5, peakSpeed: 5, docker: 1 }),
        },
        { t: 120_000, figures: figures({ hit: 4 }) },
      ]);
      assert.deepEqual(await s.usageSeries("minute", 61_000, 180_000), [
        { t: 120_000, figures: figures({ hit: 4 }) },
      ]);
      assert.deepEqual(await s.usageSeries("minute", 0, 120_000), [
        {
          t: 60_000,
          figures: figures({ pulls: 3, servedBytes: 10, downloadMs: 1.5, peakSpeed: 5, docker: 1 }),
        },
      ]);
      assert.deepEqual(await s.usageSeries("hour", 0, 3_600_000), [
        { t: 0, figures: figures({ pulls: 1, servedBytes: 10, peakSpeed: 5 }) },
      ]);
      assert.deepEqual(await s.usageSeries("day", 0, 1e12), []);
      await s.close();
    });

    it("sums an image over the buckets of a range", async () => {
      const s = await create();
      const a = "docker.io/library/alpine";
      const b = "ghcr.io/org/app";
      await s.addUsage([
        { grain: "hour", t: 0, figures: figures(), images: [{ image: a, pulls: 1, bytes: 100 }] },
        { grain: "hour", t: 3_600_000, figures: figures(), images: [{ image: a, pulls: 2, bytes: 5 }] },
        { grain: "day", t: 0, figures: figures(), images: [{ image: b, pulls: 9, bytes: 9 }] },
      ]);
      await s.addUsage([
        { grain: "hour", t: 3_600_000, figures: figures(), images: [{ image: b, pulls: 0, bytes: 7 }] },
      ]);
      assert.deepEqual((await s.usageImages("hour", 0, 7_200_000)).sort(byImage), [
        { image: a, pulls: 3, bytes: 105 },
        { image: b, pulls: 0, bytes: 7 },
      ]);
      assert.deepEqual(await s.usageImages("hour", 3_600_000, 7_200_000).then((r) => r.sort(byImage)), [
        { image: a, pulls: 2, bytes: 5 },
        { image: b, pulls: 0, bytes: 7 },
      ]);
      await s.close();
    });

    it("prunes a grain's old buckets and trims each bucket to its top images by pulls and by bytes", async () => {
      const s = await create();
      const images = [
        { image: "many-pulls", pulls: 9, bytes: 1 },
        { image: "many-bytes", pulls: 1, bytes: 900 },
        { image: "middle", pulls: 5, bytes: 500 },
        { image: "tail", pulls: 2, bytes: 2 },
      ];
      for (const t of [0, 60_000, 120_000])
        await s.addUsage([{ grain: "minute", t, figures: figures({ pulls: 1 }), images }]);
      await s.addUsage([{ grain: "hour", t: 0, figures: figures({ pulls: 1 }), images }]);

      await s.trimUsageImages("minute", 60_000, 180_000, 1);
      const kept = (from: number) =>
        s.usageImages("minute", from, from + 60_000).then((r) => r.map((i) => i.image).sort());
      assert.deepEqual(await kept(0), ["many-bytes", "many-pulls", "middle", "tail"], "outside the range");
      assert.deepEqual(await kept(60_000), ["many-bytes", "many-pulls"]);
      await s.trimUsageImages("minute", 120_000, 180_000, 2);
      assert.deepEqual(await kept(120_000), ["many-bytes", "many-pulls"], "already trimmed to fewer");

      await s.pruneUsage("minute", 60_000);
      assert.deepEqual(
        (await s.usageSeries("minute", 0, 1e12)).map((r) => r.t),
        [60_000, 120_000],
      );
      assert.deepEqual(await kept(0), []);
      assert.equal((await s.usageSeries("hour", 0, 1e12)).length, 1, "other grains untouched");
      assert.equal((await s.usageImages("hour", 0, 1e12)).length, 4);
      await s.close();
    });
  });
}
