import { SerialJob } from "../async/serial-job.js";
import type { Logger } from "../log/logger.js";
import type { BlobRecord, CacheUsage, MetadataStore } from "../metadata/store.js";
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

/**
 * Keeps the cache under `cache.maxSize` and the disk above `cache.minFreeDisk` by removing the least recently used
 * content (see LastUseOrder) through the remover, which skips what is in use; pinned content is protected. Runs
 * are serialized; they start when a commit crosses a limit, every `interval`, and on demand.
 */
export class Evictor {
  private readonly job: SerialJob<EvictionResult>;
  /**
   * Cache bytes at the last run's start, plus blobs committed and minus content removed since: a commit is
   * checked without a query.
   */
  private estimate = 0;
  /** Free disk bytes at the last run's start, minus commits and plus removals since; undefined without a mark. */
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
    this.o.metrics.cacheBytes.inc({ kind: "blob" }, size);
    this.o.metrics.cacheObjects.inc({ kind: "blob" });
    if (!this.unmet && this.over(0)) this.job.trigger();
  }

  /** Whether the cache is above the cap or the disk below the mark, each moved by `headroom` (a fraction). */
  private over(headroom: number): boolean {
    const { maxSize, minFreeDisk } = this.o;
    if (maxSize !== undefined && this.estimate > maxSize * (1 - headroom)) return true;
    const free = this.freeEstimate;
    return minFreeDisk !== undefined && free !== undefined && free < minFreeDisk * (1 + headroom);
  }

  private async evict(): Promise<EvictionResult> {
    const { meta, remover, maxSize, minFreeDisk } = this.o;
    await meta.flush();
    // The run's one query over the whole index; from here on, commits and removals keep the estimates.
    const usage = await meta.cacheUsage();
    this.estimate = usage.blobs.bytes + usage.manifests.bytes;
    this.setGauges(usage);
    const diskFree = await this.o.diskFree();
    this.freeEstimate = minFreeDisk === undefined ? undefined : diskFree;
    let removed = 0;
    let freedBytes = 0;
    let skipped = 0;
    let reached = !this.over(0);
    if (!reached) {
      const protect = await this.o.pins.closure();
      const order = new LastUseOrder(meta, remover, protect);
      for await (const c of order) {
        if (!this.over(HEADROOM)) {
          reached = true;
          break;
        }
        const capped = maxSize !== undefined && this.estimate > maxSize * (1 - HEADROOM);
        const gone = await remover.remove(c.digest, capped ? "cap" : "disk", protect);
        if (gone.length === 0) skipped++;
        for (const r of gone) this.removed(r);
        removed += gone.length;
        freedBytes += gone.reduce((n, r) => n + r.size, 0);
      }
      skipped += order.skipped;
      // Every stored object was visited (those committed meanwhile too): what is left is in use or pinned.
      reached ||= !this.over(0);
    }
    const wasUnmet = this.unmet;
    this.unmet = !reached;
    const result: EvictionResult = {
      removed,
      freedBytes,
      skipped,
      cacheBytes: this.estimate,
      maxSize: maxSize ?? null,
      // Estimated: a removed file's blocks may be freed a moment later (a reader still has it open).
      diskFree: diskFree === undefined ? null : diskFree + freedBytes,
      minFreeDisk: minFreeDisk ?? null,
    };
    if (removed > 0) this.o.log.info(result, "eviction freed space");
    if (this.unmet && !wasUnmet)
      this.o.log.warn(result, "cache still over its limits: the rest is in use or pinned");
    return result;
  }

  /** Takes removed content off the estimates and the gauges. */
  private removed(r: BlobRecord): void {
    this.estimate -= r.size;
    if (this.freeEstimate !== undefined) this.freeEstimate += r.size;
    this.o.metrics.cacheBytes.dec({ kind: r.kind }, r.size);
    this.o.metrics.cacheObjects.dec({ kind: r.kind });
  }

  private setGauges(usage: CacheUsage): void {
    const m = this.o.metrics;
    m.cacheBytes.set({ kind: "blob" }, usage.blobs.bytes);
    m.cacheBytes.set({ kind: "manifest" }, usage.manifests.bytes);
    m.cacheObjects.set({ kind: "blob" }, usage.blobs.count);
    m.cacheObjects.set({ kind: "manifest" }, usage.manifests.count);
  }
}
