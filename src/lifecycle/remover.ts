import type { Logger } from "../log/logger.js";
import type { BlobRecord, MetadataStore } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Digest } from "../reference/reference.js";
import type { LocalBlobStore } from "../store/blob-store.js";
import type { InUse } from "./in-use.js";

/** Why content left the cache; a label of the eviction metrics. */
export type RemovalReason = "cap" | "disk" | "retention" | "gc" | "purge" | "repair";

export interface RemoverOptions {
  store: Pick<LocalBlobStore, "delete">;
  meta: Pick<
    MetadataStore,
    "getBlob" | "manifestParents" | "tagsOf" | "deleteTag" | "deleteManifest" | "addCounters"
  >;
  inUse: InUse;
  metrics: Metrics;
  log: Logger;
  /** Told about each removed digest (the manifest store forgets its in-memory copy). */
  onRemoved?: (digest: Digest) => void;
}

/**
 * Removes content safely, the one way eviction, retention, GC and purge do: whatever depends on it goes first —
 * the tags naming a manifest that references it, then those manifests (an index before its children), then the
 * content itself; each index entry before its bytes. A pull therefore never finds a tag or manifest whose blobs
 * were removed under it: it finds nothing, and fetches again. Nothing in use or protected (pinned) is touched.
 */
export class ContentRemover {
  constructor(private readonly o: RemoverOptions) {}

  /**
   * What removing `digest` takes with it, in removal order (dependents first, `digest` last); undefined when any
   * of it is in use or protected, or `digest` is not stored.
   */
  async plan(digest: Digest, protect: ReadonlySet<Digest>): Promise<BlobRecord[] | undefined> {
    const order: Digest[] = [];
    const seen = new Set<Digest>();
    const queue: Digest[] = [digest];
    while (queue.length > 0) {
      const d = queue.shift() as Digest;
      if (seen.has(d)) continue;
      if (protect.has(d) || this.o.inUse.has(d)) return undefined;
      seen.add(d);
      order.push(d);
      queue.push(...(await this.o.meta.manifestParents(d)));
    }
    const records: BlobRecord[] = [];
    // Breadth-first from the content up, so reversed the topmost parents come first.
    for (const d of order.reverse()) {
      const rec = await this.o.meta.getBlob(d);
      if (rec) records.push(rec);
      else if (d === digest) return undefined;
    }
    return records;
  }

  /** Removes `digest` and its dependents; returns what was removed ([] when skipped). */
  async remove(
    digest: Digest,
    reason: RemovalReason,
    protect: ReadonlySet<Digest> = new Set(),
  ): Promise<BlobRecord[]> {
    const plan = await this.plan(digest, protect);
    if (!plan) return [];
    const removed: BlobRecord[] = [];
    for (const rec of plan) {
      // A download or a client may have started on it since the plan was made.
      if (this.o.inUse.has(rec.digest)) break;
      await this.removeOne(rec);
      removed.push(rec);
    }
    this.count(removed, reason);
    return removed;
  }

  /** Removes exactly this content and the tags naming it, nothing else (the caller planned the order). */
  async removeOne(rec: BlobRecord): Promise<void> {
    if (rec.kind === "manifest") {
      for (const t of await this.o.meta.tagsOf(rec.digest)) await this.o.meta.deleteTag(t, t.tag);
    }
    await this.o.store.delete(rec.digest);
    if (rec.kind === "manifest") await this.o.meta.deleteManifest(rec.digest);
    this.o.onRemoved?.(rec.digest);
  }

  /** Counts removals for /metrics and the persistent totals. */
  count(removed: readonly BlobRecord[], reason: RemovalReason): void {
    if (removed.length === 0) return;
    let bytes = 0;
    for (const r of removed) {
      this.o.metrics.evictions.inc({ reason, kind: r.kind });
      bytes += r.size;
    }
    this.o.metrics.evictedBytes.inc({ reason }, bytes);
    this.o.meta.addCounters({ [`removed_${reason}`]: removed.length, [`removed_bytes_${reason}`]: bytes });
    this.o.log.debug({ reason, count: removed.length, bytes }, "content removed");
  }
}
