import { SerialJob } from "../async/serial-job.js";
import type { Logger } from "../log/logger.js";
import type { MetadataStore } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import { LastUseOrder } from "./last-use.js";
import type { Pins } from "./pins.js";
import type { ContentRemover } from "./remover.js";

export interface RetentionOptions {
  meta: Pick<
    MetadataStore,
    "flush" | "tagsPulledBefore" | "deleteTag" | "leastRecentlyUsed" | "getBlob" | "addCounters"
  >;
  remover: Pick<ContentRemover, "plan" | "remove">;
  pins: Pick<Pins, "closure" | "list">;
  /** Tags no client pulled for this long (ms) are dropped; undefined: never. */
  tags?: number | undefined;
  /** Content not accessed for this long (ms) is removed; undefined: never. */
  content?: number | undefined;
  /** How often it runs when either is set. */
  interval: number;
  metrics: Metrics;
  log: Logger;
}

/** What a run did (`POST /admin/retention` answers it). */
export interface RetentionResult {
  /** Tags dropped. */
  tagsRemoved: number;
  /** Objects (manifests and blobs) removed, and their bytes. */
  removed: number;
  freedBytes: number;
  /** Expired content passed over: in use, pinned, or needed by something that is. */
  skipped: number;
  /** The limits applied (ms); null when off. */
  tags: number | null;
  content: number | null;
}

/**
 * Retention (off by default): drops tags no client pulled for `cache.retention.tags`, and removes content not
 * accessed for `cache.retention.content`. A manifest's use is any GET or HEAD of it, by tag or by digest alike, and
 * content counts as used as long as a manifest that references it is (see LastUseOrder): an image pulled by
 * digest is kept exactly like a tagged one. Pinned tags and content stay.
 */
export class Retention {
  private readonly job: SerialJob<RetentionResult>;

  constructor(private readonly o: RetentionOptions) {
    this.job = new SerialJob(
      () => this.apply(),
      (err) => o.log.warn({ err: err.message }, "retention failed"),
    );
  }

  get enabled(): boolean {
    return this.o.tags !== undefined || this.o.content !== undefined;
  }

  start(): void {
    if (this.enabled) this.job.every(this.o.interval);
  }

  stop(): Promise<void> {
    return this.job.stop();
  }

  /** Applies retention now (after the run under way, if any). */
  run(): Promise<RetentionResult> {
    return this.job.run();
  }

  private async apply(): Promise<RetentionResult> {
    await this.o.meta.flush();
    const now = Date.now();
    const tagsRemoved = this.o.tags === undefined ? 0 : await this.dropTags(now - this.o.tags);
    const content = this.o.content === undefined ? undefined : await this.dropContent(now - this.o.content);
    const result: RetentionResult = {
      tagsRemoved,
      removed: content?.removed ?? 0,
      freedBytes: content?.freedBytes ?? 0,
      skipped: content?.skipped ?? 0,
      tags: this.o.tags ?? null,
      content: this.o.content ?? null,
    };
    if (result.tagsRemoved > 0 || result.removed > 0)
      this.o.log.info(result, "retention removed expired content");
    return result;
  }

  /** Drops tags not pulled since `before`, except pinned ones (their pin names the tag). */
  private async dropTags(before: number): Promise<number> {
    const pins = await this.o.pins.list();
    let n = 0;
    for (const t of await this.o.meta.tagsPulledBefore(before)) {
      if (pins.some((p) => p.registry === t.registry && p.repo === t.repo && p.reference === t.tag)) continue;
      await this.o.meta.deleteTag(t, t.tag);
      n++;
    }
    if (n > 0) {
      this.o.metrics.evictions.inc({ reason: "retention", kind: "tag" }, n);
      this.o.meta.addCounters({ removed_tags_retention: n });
    }
    return n;
  }

  /** Removes content last used before `before`, least recently used first. */
  private async dropContent(before: number) {
    const protect = await this.o.pins.closure();
    const order = new LastUseOrder(this.o.meta, this.o.remover, protect);
    let removed = 0;
    let freedBytes = 0;
    let skipped = 0;
    for await (const c of order) {
      if (c.lastUse >= before) break;
      const gone = await this.o.remover.remove(c.digest, "retention", protect);
      if (gone.length === 0) skipped++;
      removed += gone.length;
      for (const r of gone) freedBytes += r.size;
    }
    return { removed, freedBytes, skipped: skipped + order.skipped };
  }
}
