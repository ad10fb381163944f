import { statfs } from "node:fs/promises";
import type { Config } from "../config/schema.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { MetadataStore, Pin } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { ProxyBlobStore } from "../proxy/proxy-blob-store.js";
import type { ProxyManifestStore } from "../proxy/proxy-manifest-store.js";
import type { RepoLinks, RepoRef } from "../proxy/repo-links.js";
import { parseImageRef, referenceOf } from "../reference/image-ref.js";
import type { StorageDriver } from "../storage/driver.js";
import type { LocalBlobStore } from "../store/blob-store.js";
import type { UpstreamSet } from "../upstream/upstreams.js";
import { Evictor } from "./evictor.js";
import { GarbageCollector } from "./gc.js";
import type { InUse } from "./in-use.js";
import { Pins } from "./pins.js";
import { parsePlatform } from "./platforms.js";
import { Prefetcher } from "./prefetch.js";
import { PrefetchWatch } from "./prefetch-watch.js";
import { Purger } from "./purge.js";
import { ContentRemover } from "./remover.js";
import { Repairer, refetchFromUpstream } from "./repair.js";
import { Retention } from "./retention.js";
import { Verifier } from "./verify.js";

export interface LifecycleOptions {
  config: Config;
  store: LocalBlobStore;
  meta: MetadataStore;
  blobs: ProxyBlobStore;
  manifests: ProxyManifestStore;
  upstreams: UpstreamSet;
  inUse: InUse;
  /** The filesystem storage's root, for the free-space check; undefined for other drivers. */
  diskPath: string | undefined;
  /** The primary storage, which GC walks for orphan files. */
  storage: StorageDriver;
  /** Local temp directories GC sweeps (uploads, spool). */
  tempDirs: readonly string[];
  links: RepoLinks;
  metrics: Metrics;
  log: Logger;
}

/** An operator's image reference, routed: its repository, upstream and tag or digest (if it names one). */
export interface ResolvedImage extends RepoRef {
  reference: string | undefined;
}

/** What `hubmirror cache status` shows. */
export interface CacheStatus {
  bytes: number;
  maxSize: number | null;
  minFreeDisk: number | null;
  diskFree: number | null;
  blobs: { count: number; bytes: number };
  manifests: { count: number; bytes: number };
  oldestAccess: string | null;
  inUse: number;
  pinned: (Pin & { source: string })[];
}

/**
 * The cache lifecycle: what keeps the cache within its cap and tidy (eviction, retention, GC), what operators do
 * to it (prefetch, purge, verify, pins), and what may not be removed (content in use, pinned images).
 */
export class Lifecycle {
  readonly pins: Pins;
  readonly remover: ContentRemover;
  readonly prefetcher: Prefetcher;
  private readonly watch: PrefetchWatch;
  readonly evictor: Evictor;
  readonly retention: Retention;
  readonly gc: GarbageCollector;
  readonly purger: Purger;
  readonly verifier: Verifier;

  constructor(private readonly o: LifecycleOptions) {
    const configured = o.config.cache.pin.map((raw) => {
      const image = this.resolve(raw, "latest");
      return { ...image.key, reference: image.reference as string };
    });
    this.pins = new Pins(o.meta, configured);
    this.remover = new ContentRemover({
      store: o.store,
      meta: o.meta,
      inUse: o.inUse,
      metrics: o.metrics,
      log: o.log,
      onRemoved: (digest) => o.manifests.forget(digest),
    });
    const { prefetch } = o.config;
    this.prefetcher = new Prefetcher({
      blobs: o.blobs,
      manifests: o.manifests,
      metrics: o.metrics,
      meta: o.meta,
      resolve: (raw, tag) => this.resolve(raw, tag),
      concurrency: prefetch.concurrency,
    });
    this.watch = new PrefetchWatch({
      prefetcher: this.prefetcher,
      images: prefetch.images,
      platforms: prefetch.platforms.map(parsePlatform),
      interval: prefetch.interval,
      log: o.log,
    });
    const { cache } = o.config;
    const common = { meta: o.meta, remover: this.remover, pins: this.pins, metrics: o.metrics, log: o.log };
    this.evictor = new Evictor({
      ...common,
      diskFree: () => this.diskFree(),
      maxSize: cache.maxSize,
      minFreeDisk: cache.minFreeDisk,
      interval: cache.evictionInterval,
    });
    this.retention = new Retention({ ...common, ...cache.retention });
    const { grace, interval } = o.config.cache.gc;
    this.gc = new GarbageCollector({ ...o, remover: this.remover, pins: this.pins, grace, interval });
    this.purger = new Purger({
      ...o,
      remover: this.remover,
      pins: this.pins,
      exclusive: (w) => this.gc.exclusive(w),
    });
    const refetch = refetchFromUpstream(o.upstreams, o.blobs, o.manifests);
    const repairer = new Repairer({ ...o, remover: this.remover, refetch });
    this.verifier = new Verifier({ ...o, repairer });
  }

  /** Routes `[REGISTRY/]NAME[:TAG][@DIGEST]` to its upstream; NAME_INVALID or NAME_UNKNOWN when it can't be. */
  resolve(raw: string, defaultTag?: string): ResolvedImage {
    const ref = parseImageRef(raw);
    const { upstream, key } = this.o.upstreams.resolve(null, undefined, ref.name);
    return { upstream, key, reference: referenceOf(ref, defaultTag) };
  }

  /** Called when a blob is committed. */
  onCommit(size: number): void {
    this.evictor.onCommit(size);
  }

  start(): void {
    this.watch.start();
    this.evictor.start();
    this.retention.start();
    this.gc.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.watch.stop(), this.evictor.stop(), this.retention.stop(), this.gc.stop()]);
  }

  async status(): Promise<CacheStatus> {
    await this.o.meta.flush();
    const usage = await this.o.meta.cacheUsage();
    const { maxSize, minFreeDisk } = this.o.config.cache;
    return {
      bytes: usage.blobs.bytes + usage.manifests.bytes,
      maxSize: maxSize ?? null,
      minFreeDisk: minFreeDisk ?? null,
      diskFree: (await this.diskFree()) ?? null,
      blobs: usage.blobs,
      manifests: usage.manifests,
      oldestAccess: usage.oldestAccess === undefined ? null : new Date(usage.oldestAccess).toISOString(),
      inUse: this.o.inUse.size,
      pinned: await this.pins.list(),
    };
  }

  /** Free bytes on the filesystem storage's disk; undefined for other drivers. */
  async diskFree(): Promise<number | undefined> {
    if (!this.o.diskPath) return undefined;
    const s = await statfs(this.o.diskPath);
    return s.bavail * s.bsize;
  }

  async pin(raw: string): Promise<Pin> {
    const { key, reference } = this.resolve(raw, "latest");
    const pin = { ...key, reference: reference as string };
    await this.o.meta.addPin(pin);
    return pin;
  }

  async unpin(raw: string): Promise<Pin> {
    const { key, reference } = this.resolve(raw, "latest");
    const pin = { ...key, reference: reference as string };
    if (this.pins.isConfigured(pin)) {
      throw new RegistryError("DENIED", `${raw} is pinned in the configuration (cache.pin): remove it there`);
    }
    if (!(await this.o.meta.removePin(pin))) throw new RegistryError("NOT_FOUND", `${raw} is not pinned`);
    return pin;
  }
}
