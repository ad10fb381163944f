import { USAGE_FIGURES, type UsageFigures } from "../metadata/store.js";

export function emptyFigures(): UsageFigures {
  return Object.fromEntries(USAGE_FIGURES.map((f) => [f, 0])) as UsageFigures;
}

/** Adds `from` into `into`: sums, but the peak speed is the larger one. */
export function addFigures(into: UsageFigures, from: UsageFigures): UsageFigures {
  for (const f of USAGE_FIGURES) into[f] = f === "peakSpeed" ? Math.max(into[f], from[f]) : into[f] + from[f];
  return into;
}

/** What /api/stats shows of a bucket or a range (see README "Statistics"). */
export interface FiguresView {
  pulls: number;
  manifestRequests: number;
  blobRequests: number;
  servedBytes: number;
  upstreamBytes: number;
  savedBytes: number;
  hits: number;
  misses: number;
  hitRatio: number | null;
  avgSpeed: number;
  peakSpeed: number;
}

/**
 * Hits are what the cache answered by itself (hit, redirect, stale); misses went upstream (miss) or waited for a
 * download under way (joined). Speeds are of blob downloads of at least 1 MiB, in bytes/s.
 */
export function viewOf(f: UsageFigures): FiguresView {
  const hits = f.hit + f.redirect + f.stale;
  const misses = f.miss + f.joined;
  return {
    pulls: f.pulls,
    manifestRequests: f.manifestRequests,
    blobRequests: f.blobRequests,
    servedBytes: f.servedBytes,
    upstreamBytes: f.upstreamBytes,
    savedBytes: Math.max(0, f.servedBytes - f.upstreamBytes),
    hits,
    misses,
    hitRatio: hits + misses === 0 ? null : Math.round((hits / (hits + misses)) * 10_000) / 10_000,
    avgSpeed: f.downloadMs > 0 ? Math.round((f.downloadBytes / f.downloadMs) * 1000) : 0,
    peakSpeed: Math.round(f.peakSpeed),
  };
}
