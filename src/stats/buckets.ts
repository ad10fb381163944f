import type { UsageGrain } from "../metadata/store.js";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** Finest first: a request counts in the bucket of each. */
export const GRAINS: readonly UsageGrain[] = ["minute", "hour", "day", "month"];

const FIXED: Record<Exclude<UsageGrain, "month">, number> = { minute: MINUTE, hour: HOUR, day: DAY };

/** The start of the `grain` bucket that `t` falls in; days and months begin at midnight UTC. */
export function bucketStart(grain: UsageGrain, t: number): number {
  if (grain === "month") {
    const d = new Date(t);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
  return t - (t % FIXED[grain]);
}

/** The start of the bucket `k` buckets after the one starting at `start` (before it when `k` is negative). */
export function shiftBucket(grain: UsageGrain, start: number, k: number): number {
  if (grain === "month") {
    const d = new Date(start);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + k, 1);
  }
  return start + k * FIXED[grain];
}

/** The starts of the last `count` buckets up to the one `now` falls in, oldest first. */
export function lastBuckets(grain: UsageGrain, now: number, count: number): number[] {
  const current = bucketStart(grain, now);
  return Array.from({ length: count }, (_, i) => shiftBucket(grain, current, i - count + 1));
}

/** A fixed grain's length; undefined for months, which differ. */
export function grainMs(grain: UsageGrain): number | undefined {
  return grain === "month" ? undefined : FIXED[grain];
}
