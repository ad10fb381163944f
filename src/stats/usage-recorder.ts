import type { ImageUsage, UsageBucket, UsageFigures, UsageGrain, UsageStore } from "../metadata/store.js";
import type { CacheResult } from "../proxy/proxy-blob-store.js";
import { bucketStart, DAY, GRAINS, HOUR, shiftBucket } from "./buckets.js";
import type { ClientKind } from "./client-kind.js";
import { addFigures, emptyFigures } from "./figures.js";

/** One finished manifest or blob request. */
export interface UsageEvent {
  /** When it finished (ms since epoch). */
  at: number;
  registry: string;
  repo: string;
  /** The tag or digest asked for. */
  reference: string;
  kind: "manifest" | "blob";
  head: boolean;
  /** Undefined when the request failed before the cache answered. */
  result: CacheResult | undefined;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  ms: number;
  client: ClientKind;
  user: string | undefined;
  /** An image manifest (not an index) was sent whole: one pull. */
  pull: boolean;
}

/**
 * Only downloads this big are timed for the speeds: a small blob's time is the request's latency, and would give
 * absurd or meaningless speeds.
 */
export const TIMED_DOWNLOAD_BYTES = 1 << 20;
/** How long each grain's buckets are kept; months forever. */
export const RETENTION: Record<UsageGrain, number | undefined> = {
  minute: 2 * HOUR,
  hour: 48 * HOUR,
  day: 400 * DAY,
  month: undefined,
};
/** Images kept per bucket once it is over: the top by pulls and the top by bytes. */
export const TOP_KEPT = 100;
/** Images kept per bucket still open, trimmed once a minute: the long tail goes. */
export const OPEN_KEPT = 1000;
const RECENT = 50;

/** A minute of usage not written yet. */
export interface Minute {
  t: number;
  figures: UsageFigures;
  images: Map<string, ImageUsage>;
}

/**
 * Usage in memory, written in batches: a request only adds to the current minute's figures; `flush` (every few
 * seconds) adds the minutes to the buckets of every grain in one transaction, so minute, hour, day and month
 * buckets never disagree and nothing is rolled up afterwards. Once a minute it drops the buckets past their
 * retention and trims images.
 */
export class UsageRecorder {
  private pending = new Map<number, Minute>();
  private current: Minute | undefined;
  private readonly recentRing: UsageEvent[] = [];
  private recentNext = 0;
  private maintainedAt = -1;
  /** Per grain: buckets before this were trimmed to TOP_KEPT. */
  private readonly trimmedUntil = new Map<UsageGrain, number>();
  /** Flushes and reads take turns: a read never sees a batch both written and still pending. */
  private turn: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: UsageStore) {}

  /** Adds a request to its minute; returns its speed (bytes/s) when it was a download timed for the speeds. */
  record(e: UsageEvent): number | undefined {
    const m = this.minute(e.at);
    const f = m.figures;
    if (e.kind === "manifest") f.manifestRequests++;
    else f.blobRequests++;
    if (e.pull) f.pulls++;
    f.servedBytes += e.bytes;
    if (e.result) f[e.result]++;
    f[e.client]++;
    let speed: number | undefined;
    if (
      e.kind === "blob" &&
      e.bytes >= TIMED_DOWNLOAD_BYTES &&
      e.ms > 0 &&
      (e.status === 200 || e.status === 206)
    ) {
      speed = (e.bytes / e.ms) * 1000;
      f.downloadBytes += e.bytes;
      f.downloadMs += e.ms;
      f.peakSpeed = Math.max(f.peakSpeed, speed);
    }
    const image = `${e.registry}/${e.repo}`;
    const i = m.images.get(image);
    if (i) {
      i.pulls += e.pull ? 1 : 0;
      i.bytes += e.bytes;
    } else {
      m.images.set(image, { image, pulls: e.pull ? 1 : 0, bytes: e.bytes });
    }
    this.recentRing[this.recentNext] = e;
    this.recentNext = (this.recentNext + 1) % RECENT;
    return speed;
  }

  /** Blob bytes received from upstream: counted as they arrive, whichever requests they are for. */
  upstreamBytes(n: number, at = Date.now()): void {
    this.minute(at).figures.upstreamBytes += n;
  }

  /** The last requests, newest first. */
  recent(): UsageEvent[] {
    const r = this.recentRing;
    return [...r.slice(this.recentNext), ...r.slice(0, this.recentNext)].reverse();
  }

  /** Writes the pending minutes, kept for the next flush if the write fails; then the once-a-minute upkeep. */
  flush(now = Date.now()): Promise<void> {
    return this.exclusive(async () => {
      if (this.pending.size > 0) {
        const batch = [...this.pending.values()];
        this.pending = new Map();
        this.current = undefined;
        try {
          await this.store.addUsage(bucketsOf(batch));
        } catch (err) {
          for (const m of batch) this.merge(m);
          throw err;
        }
      }
      await this.upkeep(now);
    });
  }

  /**
   * Runs `read` with the minutes not written yet, while no flush is under way: what it reads from the store and
   * the minutes it gets add up to everything recorded, each request once.
   */
  read<T>(read: (unsaved: readonly Minute[]) => Promise<T>): Promise<T> {
    return this.exclusive(() => read([...this.pending.values()]));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work);
    this.turn = run.catch(() => {});
    return run;
  }

  private minute(at: number): Minute {
    const c = this.current;
    if (c && at >= c.t && at - c.t < 60_000) return c;
    const t = bucketStart("minute", at);
    let m = this.pending.get(t);
    if (!m) {
      m = { t, figures: emptyFigures(), images: new Map() };
      this.pending.set(t, m);
    }
    // Only the latest minute is current: a late event (a clock step back) must not move it.
    if (!c || t > c.t) this.current = m;
    return m;
  }

  private merge(m: Minute): void {
    const into = this.pending.get(m.t);
    if (!into) {
      this.pending.set(m.t, m);
      return;
    }
    addFigures(into.figures, m.figures);
    for (const i of m.images.values()) addImage(into.images, i);
  }

  private async upkeep(now: number): Promise<void> {
    const minute = bucketStart("minute", now);
    if (minute === this.maintainedAt) return;
    this.maintainedAt = minute;
    for (const grain of GRAINS) {
      const open = bucketStart(grain, now);
      const kept = RETENTION[grain];
      if (kept !== undefined) await this.store.pruneUsage(grain, now - kept);
      await this.store.trimUsageImages(grain, this.trimmedUntil.get(grain) ?? 0, open, TOP_KEPT);
      this.trimmedUntil.set(grain, open);
      await this.store.trimUsageImages(grain, open, shiftBucket(grain, open, 1), OPEN_KEPT);
    }
  }
}

/** Adds an image's figures into a map of them. */
export function addImage(into: Map<string, ImageUsage>, i: ImageUsage): void {
  const have = into.get(i.image);
  if (have) {
    have.pulls += i.pulls;
    have.bytes += i.bytes;
  } else {
    into.set(i.image, { ...i });
  }
}

/** The buckets of every grain that the minutes fall in, each with the minutes' sum. */
function bucketsOf(minutes: readonly Minute[]): UsageBucket[] {
  const out = new Map<
    string,
    { grain: UsageGrain; t: number; figures: UsageFigures; images: Map<string, ImageUsage> }
  >();
  for (const m of minutes) {
    for (const grain of GRAINS) {
      const t = bucketStart(grain, m.t);
      const key = `${grain}:${t}`;
      let b = out.get(key);
      if (!b) {
        b = { grain, t, figures: emptyFigures(), images: new Map() };
        out.set(key, b);
      }
      addFigures(b.figures, m.figures);
      for (const i of m.images.values()) addImage(b.images, i);
    }
  }
  return [...out.values()].map((b) => ({ ...b, images: [...b.images.values()] }));
}
