import type { ImageUsage, UsageFigures, UsageGrain, UsageStore } from "../metadata/store.js";
import { bucketStart, grainMs, lastBuckets, shiftBucket } from "./buckets.js";
import { CLIENT_KINDS, type ClientKind } from "./client-kind.js";
import { addFigures, emptyFigures, type FiguresView, viewOf } from "./figures.js";
import { addImage, type UsageRecorder } from "./usage-recorder.js";

/** The ranges /api/stats answers, each as its last `count` buckets of a grain (the current one included). */
export const RANGES = {
  "1h": { grain: "minute", count: 60 },
  "24h": { grain: "hour", count: 24 },
  "30d": { grain: "day", count: 30 },
  "1y": { grain: "month", count: 12 },
} as const satisfies Record<string, { grain: UsageGrain; count: number }>;
export type StatsRange = keyof typeof RANGES;

/** Images listed in each top list. */
export const TOP_IMAGES = 20;

export interface UsageReport {
  range: StatsRange;
  from: number;
  to: number;
  /** null for months, whose lengths differ. */
  bucketMs: number | null;
  totals: FiguresView & { results: Pick<UsageFigures, "hit" | "miss" | "joined" | "redirect" | "stale"> };
  series: (FiguresView & { t: number })[];
  topImages: { byPulls: ImageUsage[]; byBytes: ImageUsage[] };
  clients: Record<ClientKind, number>;
}

const byPulls = (a: ImageUsage, b: ImageUsage) =>
  b.pulls - a.pulls || b.bytes - a.bytes || a.image.localeCompare(b.image);
const byBytes = (a: ImageUsage, b: ImageUsage) =>
  b.bytes - a.bytes || b.pulls - a.pulls || a.image.localeCompare(b.image);

/** A range's figures: the stored buckets plus what is recorded but not written yet; empty buckets as zeros. */
export async function usageReport(
  store: UsageStore,
  recorder: UsageRecorder,
  range: StatsRange,
  now: number,
): Promise<UsageReport> {
  const { grain, count } = RANGES[range];
  const starts = lastBuckets(grain, now, count);
  const from = starts[0] as number;
  const to = shiftBucket(grain, starts[count - 1] as number, 1);
  const { buckets, images } = await recorder.read(async (unsaved) => {
    const buckets = new Map((await store.usageSeries(grain, from, to)).map((r) => [r.t, r.figures]));
    const images = new Map((await store.usageImages(grain, from, to)).map((i) => [i.image, i]));
    for (const m of unsaved) {
      if (m.t < from || m.t >= to) continue;
      const t = bucketStart(grain, m.t);
      const into = buckets.get(t) ?? emptyFigures();
      buckets.set(t, addFigures(into, m.figures));
      for (const i of m.images.values()) addImage(images, i);
    }
    return { buckets, images };
  });
  const total = emptyFigures();
  const series = starts.map((t) => {
    const f = buckets.get(t) ?? emptyFigures();
    addFigures(total, f);
    return { t, ...viewOf(f) };
  });
  const all = [...images.values()];
  const { hit, miss, joined, redirect, stale } = total;
  return {
    range,
    from,
    to,
    bucketMs: grainMs(grain) ?? null,
    totals: { ...viewOf(total), results: { hit, miss, joined, redirect, stale } },
    series,
    topImages: {
      byPulls: all
        .filter((i) => i.pulls > 0)
        .sort(byPulls)
        .slice(0, TOP_IMAGES),
      byBytes: all
        .filter((i) => i.bytes > 0)
        .sort(byBytes)
        .slice(0, TOP_IMAGES),
    },
    clients: Object.fromEntries(CLIENT_KINDS.map((k) => [k, total[k]])) as Record<ClientKind, number>,
  };
}
