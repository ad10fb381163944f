// The shape of `GET /api/stats`, as the stats backend answers it (see the README's "Statistics API").

export type Range = "1h" | "24h" | "30d";
export const RANGES: readonly Range[] = ["1h", "24h", "30d"];

export interface Totals {
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

export interface Bucket extends Omit<Totals, "savedBytes"> {
  /** The bucket's start, ms since the epoch. */
  t: number;
}

export interface ImageFigures {
  image: string;
  pulls: number;
  bytes: number;
}

export interface UpstreamState {
  registry: string;
  url: string;
  state: string;
  rateLimitLimit: number | null;
  rateLimitRemaining: number | null;
  updatedAt: number | null;
}

export interface Download {
  digest: string;
  repo: string;
  registry: string;
  received: number;
  size: number | null;
}

export interface RecentRequest {
  t: number;
  image: string;
  reference: string;
  kind: string;
  result: string;
  bytes: number;
  client: string;
  status: number;
}

export interface Stats {
  range: Range;
  from: number;
  to: number;
  bucketMs: number;
  totals: Totals;
  cache: { bytes: number; objects: number; maxSize: number | null };
  users: { registered: number; active: number };
  series: Bucket[];
  topImages: { byPulls: ImageFigures[]; byBytes: ImageFigures[] };
  clients: Record<string, number>;
  upstreams: UpstreamState[];
  inFlight: Download[];
  recent: RecentRequest[];
}

/** Why the figures could not be loaded, in words for the error banner. */
export class StatsError extends Error {}

/** The message of an OCI error body (`{"errors":[{"message":…}]}`), if the answer is one. */
async function errorMessage(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { errors?: { message?: string }[] };
    return body.errors?.[0]?.message ?? "";
  } catch {
    return "";
  }
}

/** Relative to the page, so a console served under a path prefix asks its own mirror. */
export async function fetchStats(range: Range, signal?: AbortSignal): Promise<Stats> {
  let res: Response;
  try {
    res = await fetch(`api/stats?range=${range}`, { signal, cache: "no-store" });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new StatsError("the mirror did not answer: is it running?");
  }
  if (!res.ok) {
    const message = await errorMessage(res);
    throw new StatsError(`GET /api/stats answered ${res.status}${message ? `: ${message}` : ""}`);
  }
  const stats = (await res.json().catch(() => undefined)) as Stats | undefined;
  if (!stats?.totals || !Array.isArray(stats.series)) {
    throw new StatsError("GET /api/stats answered something that is not the statistics JSON");
  }
  return stats;
}
