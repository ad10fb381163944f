import { SingleFlight } from "../async/single-flight.js";
import { reportLocalWrite } from "../errors/local-write.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { InUse } from "../lifecycle/in-use.js";
import type { Logger } from "../log/logger.js";
import type { BlobRecord, MetadataStore, RepoKey } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Digest } from "../reference/reference.js";
import { BlobVanishedError, type LocalBlobStore } from "../store/blob-store.js";
import type { RangeRequest } from "../store/send-range.js";
import { BlobFill } from "./blob-fill.js";
import { BlobMismatchError, FillAbandonedError, FillGapError } from "./fill-contract.js";
import type { RepoLinks, RepoRef } from "./repo-links.js";

/** A client sent to storage or a CDN fetches the blob right after; removal waits this long. */
const REDIRECT_HOLD_MS = 60_000;

/** How a request was answered: from the cache, by a new download, by joining one, by a redirect, or stale. */
export type CacheResult = "hit" | "miss" | "joined" | "redirect" | "stale";

export interface BlobHandle {
  size: number;
  result: CacheResult;
  /** Set when the storage wants the client sent elsewhere (a signed URL). */
  redirectURL?: string | undefined;
  /** Sends a range into a sink, following an in-flight download when there is one. */
  send(r: RangeRequest): Promise<void>;
  /**
   * Settles once the blob is stored (at once for a hit); rejects when its download fails. A reader gets the last
   * byte as soon as the digest matched, a moment before the commit: what a caller waits on to find it stored.
   */
  stored: Promise<void>;
}

/** A blob download under way, for the statistics. */
export interface Download {
  digest: Digest;
  registry: string;
  repo: string;
  received: number;
  /** null until upstream answered. */
  size: number | null;
}

/** A blob asked for under a repository. */
interface BlobRef extends RepoRef {
  digest: Digest;
}

export interface ProxyBlobOptions {
  store: LocalBlobStore;
  links: RepoLinks;
  meta: MetadataStore;
  spoolDir: string;
  /** Range resumes of one download from the registry. */
  resumeAttempts: (registry: string) => number;
  metrics: Metrics;
  log: Logger;
  /** Aborted at shutdown once the grace period is over: downloads stop, nothing half-written is committed. */
  signal?: AbortSignal;
  /** Content being downloaded or served, which the cache lifecycle must not remove. */
  inUse: InUse;
  /** The cache's size cap: a blob larger than it is streamed to its clients but not kept. */
  maxSize?: number | undefined;
  /** How long a blob a client was redirected to stays safe from removal (it is fetched from storage next). */
  redirectHoldMs?: number;
  /** Blob bytes received from upstream, as they arrive (the usage statistics). */
  onUpstreamBytes?: (n: number) => void;
}

/**
 * Blobs by digest over the local store: a hit is served locally when the repository is linked to the blob; on a
 * miss one shared upstream download per digest (BlobFill) that every concurrent request streams from.
 */
export class ProxyBlobStore {
  /** Downloads in progress; the index record when the "miss" turned out to be stored after all. */
  private readonly fills = new SingleFlight<Digest, BlobFill | BlobRecord>();
  /** The same downloads with the repository that started each. */
  private readonly downloading = new Map<Digest, { key: RepoKey; fill: BlobFill }>();

  constructor(private readonly o: ProxyBlobOptions) {}

  /** Size for HEAD: never starts a download; asks upstream (HEAD is free) when the blob is not here. */
  async stat(repo: RepoRef, digest: Digest): Promise<{ size: number; result: CacheResult }> {
    const b: BlobRef = { upstream: repo.upstream, key: repo.key, digest };
    const pending = this.fills.get(b.digest);
    if (pending) {
      const p = await pending;
      const size = p instanceof BlobFill ? await p.ready : p.size;
      await this.o.links.authorize(b, b.digest, "blob");
      return { size, result: "joined" };
    }
    const local = await this.o.store.stat(b.digest);
    if (local) {
      await this.o.links.authorize(b, b.digest, "blob");
      this.o.store.touch(b.digest);
      return { size: local.size, result: "hit" };
    }
    return { size: await b.upstream.headBlob(b.key.repo, b.digest), result: "miss" };
  }

  /** The blob for a GET; `redirect` false keeps the client here (HEAD, clients that can't follow a 307). */
  async get(repo: RepoRef, digest: Digest, redirect = true): Promise<BlobHandle> {
    const b: BlobRef = { upstream: repo.upstream, key: repo.key, digest };
    if (!this.fills.get(b.digest)) {
      const local = await this.local(b, redirect);
      if (local) return local;
    }
    const { value, joined } = this.fills.run(
      b.digest,
      () => this.startFill(b),
      (v) => (v instanceof BlobFill ? v.done : Promise.resolve()),
    );
    const p = await value;
    if (!(p instanceof BlobFill)) return this.hit(b, p, redirect);
    const size = await p.ready;
    // The starter's repository was linked when upstream answered it; any other must be linked to join.
    if (joined) await this.o.links.authorize(b, b.digest, "blob");
    return {
      size,
      result: joined ? "joined" : "miss",
      send: (r) => this.follow(b, p, r),
      stored: p.done,
    };
  }

  /**
   * Streams a range from a download. A client too late to follow a pass-through (a blob not being cached: the
   * bytes it needs are gone) gets a download of its own, also kept by nobody.
   */
  private async follow(b: BlobRef, fill: BlobFill, r: RangeRequest): Promise<void> {
    try {
      await fill.send(r, (again) => this.sendStored(b, again));
    } catch (err) {
      if (!(err instanceof FillGapError)) throw err;
      this.o.log.debug(
        { digest: b.digest },
        "too late to follow a blob that is not cached: fetching it again",
      );
      const own = this.newFill(b, () => false);
      await own.ready;
      await own.send(r, (again) => this.sendStored(b, again));
    }
  }

  /** A hit, or undefined for a miss: not indexed, or its bytes vanished behind the index's back. */
  private async local(b: BlobRef, redirect: boolean): Promise<BlobHandle | undefined> {
    const rec = await this.o.store.stat(b.digest);
    if (!rec) return undefined;
    try {
      return await this.hit(b, rec, redirect);
    } catch (err) {
      if (err instanceof BlobVanishedError) return undefined;
      throw err;
    }
  }

  /** A stored blob, served (or redirected to) when the repository may see it. */
  private async hit(b: BlobRef, rec: BlobRecord, redirect: boolean): Promise<BlobHandle> {
    await this.o.links.authorize(b, b.digest, "blob");
    this.o.store.touch(b.digest);
    const redirectURL = redirect ? await this.o.store.redirectURL(rec) : undefined;
    if (redirectURL) this.o.inUse.hold(b.digest, this.o.redirectHoldMs ?? REDIRECT_HOLD_MS);
    return {
      size: rec.size,
      result: "hit",
      redirectURL,
      send: (r) => this.sendStored(b, r),
      stored: Promise.resolve(),
    };
  }

  /** Stored bytes; if they vanished since the lookup, the blob is a miss after all and is fetched again. */
  private async sendStored(b: BlobRef, r: RangeRequest, retried = false): Promise<void> {
    const release = this.o.inUse.acquire(b.digest);
    try {
      await this.o.store.send(b.digest, r);
    } catch (err) {
      if (!(err instanceof BlobVanishedError) || retried) throw err;
      this.o.log.warn({ digest: b.digest }, "stored blob vanished: fetching it again");
      const again = await this.get(b, b.digest, false);
      return again.result === "hit" ? this.sendStored(b, r, true) : again.send(r);
    } finally {
      release();
    }
  }

  private async startFill(b: BlobRef): Promise<BlobFill | BlobRecord> {
    const { key, digest } = b;
    // A fill may have committed since our lookup, or a crash may have left a committed blob unindexed.
    const recovered = await this.o.store.recover(digest);
    if (recovered) return recovered;
    const fill = this.newFill(b, (size) => this.o.maxSize === undefined || size <= this.o.maxSize);
    // Nothing removes the blob while it downloads (its readers read the fill's own file handle, which outlives it).
    const release = this.o.inUse.acquire(digest);
    this.downloading.set(digest, { key, fill });
    // Upstream serving the blob under this name is what links the repository to it.
    fill.ready.then(() => this.o.links.link(key, [digest])).catch(() => {});
    fill.done
      .catch(() => {})
      .finally(() => {
        if (this.downloading.get(digest)?.fill === fill) this.downloading.delete(digest);
        release();
      });
    return fill;
  }

  /** A download, counted and logged; `keep` says whether a blob of a size is to be cached. */
  private newFill({ upstream, key, digest }: BlobRef, keep: (size: number) => boolean): BlobFill {
    const { log, metrics } = this.o;
    const labels = { registry: key.registry };
    const fill = new BlobFill({
      digest,
      writer: () => this.o.store.writer(digest),
      spoolDir: this.o.spoolDir,
      resumeAttempts: this.o.resumeAttempts(key.registry),
      log,
      signal: this.o.signal,
      open: (offset) => upstream.openBlob(key.repo, digest, offset, this.o.signal),
      onResume: () => metrics.blobResumes.inc(labels),
      onBytes: (n) => {
        metrics.upstreamBytes.inc(labels, n);
        this.o.onUpstreamBytes?.(n);
      },
      keep,
      onDegraded: (why) => reportLocalWrite(log, metrics, "blob", why, { digest, repo: key.repo }),
    });
    metrics.fillsInFlight.inc();
    fill.done
      .then(
        () => {
          const outcome = fill.degraded ? "degraded" : fill.kept ? "committed" : "streamed";
          metrics.blobFills.inc({ ...labels, outcome });
          this.o.meta.addCounters({ upstream_blob_bytes: fill.received, blobs_cached: fill.kept ? 1 : 0 });
          if (outcome === "streamed")
            log.info({ digest, size: fill.size }, "blob larger than the cache: served, not kept");
        },
        (err: Error) => {
          if (err instanceof FillAbandonedError) {
            metrics.blobFills.inc({ ...labels, outcome: "abandoned" });
            log.info({ digest, repo: key.repo }, "blob not cached and no client left: download stopped");
            return;
          }
          const outcome = err instanceof BlobMismatchError ? "mismatch" : "failed";
          metrics.blobFills.inc({ ...labels, outcome });
          // An upstream's 4xx (an unknown digest, a refused name) answers the client's request: not the operator's;
          // its rate limit is a warning (more credentials would lift it).
          let level: "error" | "warn" | "debug" = "error";
          if (err instanceof RegistryError && err.status < 500)
            level = err.code === "TOOMANYREQUESTS" ? "warn" : "debug";
          log[level]({ digest, repo: key.repo, outcome, err: err.message }, "blob download not cached");
        },
      )
      .finally(() => metrics.fillsInFlight.dec());
    return fill;
  }

  /** The downloads under way and how far each got. */
  downloads(): Download[] {
    return [...this.downloading].map(([digest, { key, fill }]) => ({
      digest,
      registry: key.registry,
      repo: key.repo,
      received: fill.received,
      size: fill.size ?? null,
    }));
  }

  /** Settles when no download is in progress (for shutdown). */
  idle(): Promise<void> {
    return this.fills.idle();
  }
}
