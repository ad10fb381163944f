import type { Logger } from "../log/logger.js";
import type { Platform } from "./platforms.js";
import type { Prefetcher } from "./prefetch.js";

/** The first run waits this long after start: the server is up and serving before it begins. */
const FIRST_RUN_DELAY_MS = 1_000;

export interface PrefetchWatchOptions {
  prefetcher: Pick<Prefetcher, "run">;
  /** `prefetch.images` */
  images: readonly string[];
  platforms: readonly Platform[];
  /** Time from the end of one run to the start of the next. */
  interval: number;
  log: Logger;
}

/**
 * The watch list: configured images fetched shortly after start and again every interval. A tag's revalidation
 * (after its TTL) is what brings a moved tag's new content. Failures are logged, never thrown: the mirror serves on.
 */
export class PrefetchWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly aborter = new AbortController();

  constructor(private readonly o: PrefetchWatchOptions) {}

  start(): void {
    if (this.o.images.length > 0) this.schedule(FIRST_RUN_DELAY_MS);
  }

  /** Stops the schedule and aborts the run under way (downloads it started finish for the cache). */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.aborter.abort();
    await this.running;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.running = this.once().finally(() => {
        this.running = undefined;
        if (!this.aborter.signal.aborted) this.schedule(this.o.interval);
      });
    }, ms);
    this.timer.unref();
  }

  private async once(): Promise<void> {
    const { log } = this.o;
    try {
      const s = await this.o.prefetcher.run({
        images: this.o.images,
        platforms: this.o.platforms,
        signal: this.aborter.signal,
      });
      for (const f of s.failures) log.warn({ image: f.image, err: f.error }, "watch list: prefetch failed");
      log.info(
        { images: s.images, blobs: s.blobs, bytes: s.bytes, seconds: s.seconds },
        "watch list prefetched",
      );
    } catch (err) {
      if (!this.aborter.signal.aborted)
        log.warn({ err: (err as Error).message }, "watch list: prefetch failed");
    }
  }
}
