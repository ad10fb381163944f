import type { Digest } from "../reference/reference.js";

/** Byte progress goes out at most this often: often enough for a live display, rare enough to stay cheap. */
const PROGRESS_EVERY_MS = 250;

/** What a prefetch reports as it goes (the admin API streams these as JSON lines). */
export type PrefetchEvent =
  | { type: "start"; images: number; platforms: string[] }
  /** An image's manifests are in: the blobs it needs (one shared with another image is fetched once a run). */
  | {
      type: "image";
      image: string;
      digest: Digest;
      platforms: string[];
      /** Platforms asked for that the image does not have. */
      missing: string[];
      layers: number;
      blobs: number;
      bytes: number;
    }
  | { type: "image-done"; image: string }
  | { type: "image-failed"; image: string; error: string }
  | { type: "blob-start" | "blob-done"; image: string; digest: Digest; size: number; cached: boolean }
  | ({ type: "progress" } & Counts);

// Type aliases, not interfaces: they go out as the admin API's JSON events (records).
type Counts = {
  images: { total: number; ok: number; failed: number };
  blobs: { total: number; fetched: number; cached: number };
  /** `done` counts cached blobs whole and fetched ones as their bytes arrive. */
  bytes: { total: number; done: number; fetched: number; cached: number };
};

/** The outcome of a prefetch: the admin API's `done` event. */
export type PrefetchSummary = Counts & {
  seconds: number;
  failures: { image: string; error: string }[];
};

/** A prefetch's running totals, and its events: byte progress throttled, the rest as they happen. */
export class PrefetchTally {
  private readonly c: Counts;
  private readonly failures: PrefetchSummary["failures"] = [];
  private readonly started = Date.now();
  private readonly timer: NodeJS.Timeout;
  private changed = false;

  constructor(
    images: number,
    private readonly emit: (e: PrefetchEvent) => void,
  ) {
    this.c = {
      images: { total: images, ok: 0, failed: 0 },
      blobs: { total: 0, fetched: 0, cached: 0 },
      bytes: { total: 0, done: 0, fetched: 0, cached: 0 },
    };
    this.timer = setInterval(() => this.progress(), PROGRESS_EVERY_MS);
    this.timer.unref();
  }

  send(e: PrefetchEvent): void {
    this.emit(e);
  }

  /** Blobs this run will fetch or find cached (each digest once per run). */
  expect(blobs: number, bytes: number): void {
    this.c.blobs.total += blobs;
    this.c.bytes.total += bytes;
    this.changed = true;
  }

  bytes(n: number): void {
    this.c.bytes.done += n;
    this.c.bytes.fetched += n;
    this.changed = true;
  }

  blobDone(size: number, cached: boolean): void {
    if (cached) {
      this.c.blobs.cached++;
      this.c.bytes.cached += size;
      this.c.bytes.done += size;
    } else {
      this.c.blobs.fetched++;
    }
    this.changed = true;
  }

  imageDone(image: string): void {
    this.c.images.ok++;
    this.changed = true;
    this.emit({ type: "image-done", image });
  }

  imageFailed(image: string, error: string): void {
    this.c.images.failed++;
    this.failures.push({ image, error });
    this.changed = true;
    this.emit({ type: "image-failed", image, error });
  }

  private progress(): void {
    if (!this.changed) return;
    this.changed = false;
    this.emit({ type: "progress", ...structuredClone(this.c) });
  }

  /** Stops the progress timer; the totals. */
  finish(): PrefetchSummary {
    clearInterval(this.timer);
    this.progress();
    const seconds = Math.round((Date.now() - this.started) / 10) / 100;
    return { ...structuredClone(this.c), seconds, failures: this.failures };
  }
}
