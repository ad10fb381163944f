import { LRUCache } from "lru-cache";
import type { Logger } from "../log/logger.js";
import type { MetadataStore, RepoKey } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Digest } from "../reference/reference.js";
import type { StorageDriver } from "../storage/driver.js";
import { blobPath } from "../storage/layout.js";
import type { Upstream } from "../upstream/upstream.js";
import { BlobFill, BlobMismatchError } from "./blob-fill.js";
import { type RangeRequest, sendFileRange, sendStream } from "./send-range.js";

export type CacheResult = "hit" | "miss" | "joined" | "stale";

export interface BlobHandle {
  size: number;
  result: CacheResult;
  /** Set when the storage wants the client sent elsewhere (a signed URL). */
  redirectURL?: string | undefined;
  /** Sends a range into a sink, following an in-flight download when there is one. */
  send(r: RangeRequest): Promise<void>;
}

export interface ProxyBlobOptions {
  driver: StorageDriver;
  meta: MetadataStore;
  upstreams: (registry: string) => Upstream;
  spoolDir: string;
  resumeAttempts: number;
  metrics: Metrics;
  log: Logger;
}

/**
 * Blobs by digest: local first; on a miss one shared upstream download per digest (BlobFill) that every
 * concurrent request streams from.
 */
export class ProxyBlobStore {
  private readonly inflight = new Map<Digest, Promise<BlobFill | BlobHandle>>();
  /** Repository links already recorded, so a warm hit writes nothing. */
  private readonly linked = new LRUCache<string, true>({ max: 100_000 });

  constructor(private readonly o: ProxyBlobOptions) {}

  /** Size for HEAD: never starts a download; asks upstream (HEAD is free) when the blob is not here. */
  async stat(key: RepoKey, digest: Digest): Promise<{ size: number; result: CacheResult }> {
    const pending = this.inflight.get(digest);
    if (pending) {
      const p = await pending;
      return { size: p instanceof BlobFill ? await p.ready : p.size, result: "joined" };
    }
    const local = await this.o.driver.stat(blobPath(digest));
    if (local) return { size: local.size, result: "hit" };
    return { size: await this.o.upstreams(key.registry).headBlob(key.repo, digest), result: "miss" };
  }

  async get(key: RepoKey, digest: Digest): Promise<BlobHandle> {
    let pending = this.inflight.get(digest);
    let result: CacheResult = "joined";
    if (!pending) {
      const local = await this.local(key, digest);
      if (local) return local;
      pending = this.inflight.get(digest);
      if (!pending) {
        result = "miss";
        pending = this.startFill(key, digest);
        this.inflight.set(digest, pending);
      }
    }
    const p = await pending;
    if (!(p instanceof BlobFill)) return p;
    const size = await p.ready;
    return { size, result, send: (r) => p.send(r, (again) => this.sendStored(digest, again)) };
  }

  private async local(key: RepoKey, digest: Digest): Promise<BlobHandle | undefined> {
    const path = blobPath(digest);
    const st = await this.o.driver.stat(path);
    if (!st) return undefined;
    this.o.meta.recordAccess(digest, Date.now());
    this.link(key, digest, st.size);
    return {
      size: st.size,
      result: "hit",
      redirectURL: await this.o.driver.redirectURL(path),
      send: (r) => this.sendStored(digest, r),
    };
  }

  /** A committed blob: from its local file with reused buffers when the driver has one, else as a stream. */
  private sendStored(digest: Digest, r: RangeRequest): Promise<void> {
    const path = blobPath(digest);
    const file = this.o.driver.localFile?.(path);
    if (file) return sendFileRange(file, r);
    return sendStream(() => this.o.driver.reader(path, r.start, r.length), r);
  }

  private async startFill(key: RepoKey, digest: Digest): Promise<BlobFill | BlobHandle> {
    let upstream: Upstream;
    try {
      // A fill may have committed between our stat and taking the slot: look once more, now that we hold it.
      const local = await this.local(key, digest);
      if (local) {
        this.inflight.delete(digest);
        return local;
      }
      upstream = this.o.upstreams(key.registry);
    } catch (err) {
      this.inflight.delete(digest);
      throw err;
    }
    const labels = { registry: key.registry };
    const fill = new BlobFill({
      digest,
      path: blobPath(digest),
      driver: this.o.driver,
      spoolDir: this.o.spoolDir,
      resumeAttempts: this.o.resumeAttempts,
      log: this.o.log,
      open: (offset) => upstream.openBlob(key.repo, digest, offset),
      onResume: () => this.o.metrics.blobResumes.inc(labels),
      onBytes: (n) => this.o.metrics.upstreamBytes.inc(labels, n),
    });
    this.o.metrics.fillsInFlight.inc();
    fill.done.then(
      () => {
        this.o.metrics.blobFills.inc({ ...labels, outcome: "committed" });
        this.o.meta.addCounters({ upstream_blob_bytes: fill.received, blobs_cached: 1 });
        this.link(key, digest, fill.received);
      },
      (err: Error) => {
        const outcome = err instanceof BlobMismatchError ? "mismatch" : "failed";
        this.o.metrics.blobFills.inc({ ...labels, outcome });
        this.o.log.error({ digest, repo: key.repo, outcome, err: err.message }, "blob download not cached");
      },
    );
    fill.done
      .catch(() => {})
      .finally(() => {
        this.o.metrics.fillsInFlight.dec();
        this.inflight.delete(digest);
      });
    return fill;
  }

  /** Settles when no download is in progress (for shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size > 0) {
      await Promise.allSettled(
        [...this.inflight.values()].map(async (p) => {
          const fill = await p;
          if (fill instanceof BlobFill) await fill.done;
        }),
      );
    }
  }

  private link(key: RepoKey, digest: Digest, size: number): void {
    const id = `${key.registry}/${key.repo}@${digest}`;
    if (this.linked.has(id)) return;
    this.linked.set(id, true);
    this.o.meta.linkBlob(key, digest, size).catch((err: Error) => {
      this.linked.delete(id);
      this.o.log.warn({ digest, err: err.message }, "could not record blob link");
    });
  }
}
