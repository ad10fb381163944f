import { SerialJob } from "../async/serial-job.js";
import type { Logger } from "../log/logger.js";
import type { CacheUsage, MetadataStore } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import { LastUseOrder } from "./last-use.js";
import type { Pins } from "./pins.js";
import type { ContentRemover } from "./remover.js";

/**
 * A run frees this much more than it must (5 % of the cap, of the free-space mark): at the cap, the next commits
 * then don't each start a run of their own.
 */
const HEADROOM = 0.05;

export interface EvictorOptions {
  meta: Pick<MetadataStore, "flush" | "cacheUsage" | "leastRecentlyUsed" | "getBlob">;
  remover: Pick<ContentRemover, "plan" | "remove">;
  pins: Pick<Pins, "closure">;
  /** Free bytes on the storage's disk; undefined when the storage is not a local filesystem. */
  diskFree: () => Promise<number | undefined>;
  maxSize: number | undefined;
  minFreeDisk: number | undefined;
  /** How often the cap and free space are checked, besides when a commit crosses them. */
  interval: number;
  metrics: Metrics;
  log: Logger;
}

/** What a run did (`POST /admin/evict` answers it). */
export interface EvictionResult {
  /** Objects (blobs and manifests) removed, and their bytes. */
  removed: number;
  freedBytes: number;
  /** Candidates passed over: in use, pinned, or needed by something that is. */
  skipped: number;
  /** After the run: the cache's size and its cap, the disk's free space and its mark; null when there is none. */
  cacheBytes: number;
  maxSize: number | null;
  diskFree: number | null;
  minFreeDisk: number | null;
}

const totalBytes = (u: CacheUsage) => u.blobs.bytes + u.manifests.bytes;

/**
 * Keeps the cache under `cache.maxSize` and the disk above `cache.minFreeDisk` by removing the least recently used
 * content (see LastUseOrder) through the remover, which skips what is in use; pinned content is protected. Runs
 * are serialized; they start when a commit crosses a limit, every `interval`, and on demand.
 */
export class Evictor {
  private readonly job: SerialJob<EvictionResult>;
  /** Cache bytes at the last run plus the blobs committed since: a commit is checked without a query. */
  private estimate = 0;
  /** Free disk bytes at the last run minus the blobs committed since; undefined without a mark. */
  private freeEstimate: number | undefined;
  /** The last run could not get within the limits (the rest is in use or pinned): commits wait for the timer. */
  private unmet = false;

  constructor(private readonly o: EvictorOptions) {
    this.job = new SerialJob(
      () => this.evict(),
      (err) => o.log.warn({ err: err.message }, "eviction failed"),
    );
    o.metrics.cacheMaxBytes.set(o.maxSize ?? 0);
  }

  /** A first run at once (the cap may have been lowered since the last start), then every interval. */
  start(): void {
    this.job.trigger();
    this.job.every(this.o.interval);
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** Evicts now (after the run under way, if any) and tells what was freed. */
  run(): Promise<EvictionResult> {
    return this.job.run();
  }

  /** A blob of `size` bytes was committed: starts a run if that crosses the cap or the free-space mark. */
  onCommit(size: number): void {
    this.estimate += size;
    if (this.freeEstimate !== undefined) this.freeEstimate -= size;
    if (!this.unmet && this.over(this.estimate, this.freeEstimate, 0)) this.job.trigger();
  }

  /** Whether `bytes` is above the cap or `free` below the mark, each moved by `headroom` (a fraction). */
  private over(bytes: number, free: number | undefined, headroom: number): boolean {
    const { maxSize, minFreeDisk } = this.o;
    if (maxSize !== undefined && bytes > maxSize * (1 - headroom)) return true;
    return minFreeDisk !== undefined && free !== undefined && free < minFreeDisk * (1 + headroom);
  }

  private async evict(): Promise<EvictionResult> {
    const { meta, remover, maxSize, minFreeDisk } = this.o;
    await meta.flush();
    let usage = await meta.cacheUsage();
    let bytes = totalBytes(usage);
    let free = await this.o.diskFree();
    let removed = 0;
    let freedBytes = 0;
    let skipped = 0;
    if (this.over(bytes, free, 0)) {
      const protect = await this.o.pins.closure();
      const order = new LastUseOrder(meta, remover, protect);
      for await (const c of order) {
        if (!this.over(bytes, free, HEADROOM)) break;
        const capped = maxSize !== undefined && bytes > maxSize * (1 - HEADROOM);
        const gone = await remover.remove(c.digest, capped ? "cap" : "disk", protect);
        if (gone.length === 0) skipped++;
        for (const r of gone) {
          bytes -= r.size;
          freedBytes += r.size;
          // Estimated within the run: a deleted file's blocks may be freed a little later (an open reader).
          if (free !== undefined) free += r.size;
        }
        removed += gone.length;
      }
      skipped += order.skipped;
    }
    // Judged on what this run saw: blobs committed meanwhile don't make it one that could not get under the cap.
    const wasUnmet = this.unmet;
    this.unmet = this.over(bytes, free, 0);
    if (removed > 0) {
      usage = await meta.cacheUsage();
      free = await this.o.diskFree();
    }
    bytes = totalBytes(usage);
    this.estimate = bytes;
    this.freeEstimate = minFreeDisk === undefined ? undefined : free;
    // Commits during the run were checked against the estimate before it; this one counts them.
    if (!this.unmet && this.over(bytes, free, 0)) this.job.trigger();
    this.setGauges(usage);
    const result: EvictionResult = {
      removed,
      freedBytes,
      skipped,
      cacheBytes: bytes,
      maxSize: maxSize ?? null,
      diskFree: free ?? null,
      minFreeDisk: minFreeDisk ?? null,
    };
    if (removed > 0) this.o.log.info(result, "eviction freed space");
    if (this.unmet && !wasUnmet)
      this.o.log.warn(result, "cache still over its limits: the rest is in use or pinned");
    return result;
  }

  private setGauges(usage: CacheUsage): void {
    const m = this.o.metrics;
    m.cacheBytes.set({ kind: "blob" }, usage.blobs.bytes);
    m.cacheBytes.set({ kind: "manifest" }, usage.manifests.bytes);
    m.cacheObjects.set({ kind: "blob" }, usage.blobs.count);
    m.cacheObjects.set({ kind: "manifest" }, usage.manifests.count);
  }
}
