import { type BackoffPolicy, backoffDelay } from "../async/backoff.js";
import type { Logger } from "../log/logger.js";
import type { OffloadIndex, OffloadPolicy } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Digest } from "../reference/reference.js";
import type { LocalBlobStore } from "./blob-store.js";

/** A failed copy waits this long before its next try, doubling up to the cap. */
const RETRY: BackoffPolicy = { baseMs: 30_000, maxMs: 3_600_000, jitter: true };

export interface OffloaderOptions {
  store: Pick<LocalBlobStore, "copyToOffload">;
  index: OffloadIndex;
  policy: OffloadPolicy;
  /** How often to look for work besides the nudges after each commit. */
  interval: number;
  concurrency: number;
  metrics: Metrics;
  log: Logger;
  retry?: BackoffPolicy;
}

/**
 * The tiered mode's background worker (the original service's design): copies committed blobs that match the
 * policy from the primary cache to the offload target, where the index then sends clients. A copy that fails
 * (the target unreachable) leaves the blob served from the primary and is retried later with backoff.
 */
export class Offloader {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  /** A nudge that came while a pass ran: run another one after it. */
  private again = false;
  private readonly aborter = new AbortController();

  constructor(private readonly o: OffloaderOptions) {}

  start(): void {
    this.timer = setInterval(() => this.nudge(), this.o.interval);
    this.timer.unref();
    this.nudge();
  }

  /** Starts a pass now, or right after the one running; resolves when the work known now is done. */
  nudge(): Promise<void> {
    if (this.pass) {
      this.again = true;
      return this.pass;
    }
    this.pass = this.run().finally(() => {
      this.pass = undefined;
      if (this.again && !this.aborter.signal.aborted) {
        this.again = false;
        this.nudge();
      }
    });
    return this.pass;
  }

  /** Stops taking work and aborts the copies under way (a cancelled copy leaves nothing on the target). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.aborter.abort();
    await this.pass;
  }

  private async run(): Promise<void> {
    const batch = this.o.concurrency * 4;
    try {
      for (;;) {
        if (this.aborter.signal.aborted) return;
        const work = await this.o.index.offloadCandidates(this.o.policy, Date.now(), batch);
        const queue = [...work];
        const worker = async () => {
          for (let next = queue.shift(); next; next = queue.shift()) await this.copy(next.digest, next.size);
        };
        await Promise.all(Array.from({ length: this.o.concurrency }, worker));
        if (work.length < batch) return;
      }
    } catch (err) {
      this.o.log.error({ err: (err as Error).message }, "offload pass failed");
    }
  }

  private async copy(digest: Digest, size: number): Promise<void> {
    if (this.aborter.signal.aborted) return;
    try {
      await this.o.store.copyToOffload(digest, this.aborter.signal);
      this.o.metrics.offloadCopies.inc({ outcome: "copied" });
      this.o.metrics.offloadBytes.inc(size);
      this.o.log.debug({ digest, size }, "blob offloaded");
    } catch (err) {
      const message = (err as Error).message;
      this.o.metrics.offloadCopies.inc({ outcome: "failed" });
      const retry = this.o.retry ?? RETRY;
      await this.o.index
        .offloadFailed(digest, message, (attempts) => Date.now() + backoffDelay(attempts - 1, retry))
        .catch(() => {});
      if (!this.aborter.signal.aborted) this.o.log.warn({ digest, err: message }, "offload copy failed");
    }
  }
}
