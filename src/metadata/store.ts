import type { Digest } from "../reference/reference.js";
import type { UserStore } from "./user-store.js";

/** A repository in one upstream registry: the cache is keyed by registry so many upstreams can share it. */
export interface RepoKey {
  registry: string;
  repo: string;
}

export interface TagRecord {
  digest: Digest;
  /** When upstream last confirmed the tag's digest (ms since epoch). */
  checkedAt: number;
}

/** "blob" (a layer or config, written while it downloads) or "manifest" (stored whole). */
export type ContentKind = "blob" | "manifest";

/** Where stored content lives: "local" on the storage driver; "offloaded" there and on the offload target. */
export type Location = "local" | "offloaded";

/** An entry of the local store's index: content that is stored, and where. */
export interface BlobRecord {
  digest: Digest;
  size: number;
  kind: ContentKind;
  location: Location;
  /** Last GET or HEAD (ms since epoch); recorded in batches, so up to a flush interval late. */
  lastAccess: number;
  /** GETs and HEADs so far (batched like lastAccess). */
  requests: number;
}

export interface OffloadPolicy {
  minSize: number;
  minRequests: number;
}

export interface CountAndBytes {
  count: number;
  bytes: number;
}

/** What `hubmirror offload status` prints. */
export interface OffloadStatus {
  synced: CountAndBytes;
  pending: CountAndBytes;
  failed: CountAndBytes;
}

export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface UpstreamStatus {
  registry: string;
  rateLimitLimit: number | undefined;
  rateLimitRemaining: number | undefined;
  updatedAt: number;
}

/** The local blob store's index: what is stored, its size and last use. A hit is answered from here. */
export interface BlobIndex {
  getBlob(digest: Digest): Promise<BlobRecord | undefined>;
  /** Records content once its bytes are committed (as local: a new copy is not offloaded yet). */
  putBlob(digest: Digest, size: number, kind: ContentKind): Promise<void>;
  deleteBlob(digest: Digest): Promise<void>;
  /** Buffers a use (access time and count); flushed in one batch, never a write per request. */
  recordAccess(digest: Digest, at: number): void;
  setLocation(digest: Digest, location: Location): Promise<void>;
}

/** The offload worker's queue: local blobs that match the policy, and the copies that failed. */
export interface OffloadIndex {
  /** Local blobs matching the policy whose copy is not waiting for a retry, most recently used first. */
  offloadCandidates(
    policy: OffloadPolicy,
    now: number,
    limit: number,
  ): Promise<{ digest: Digest; size: number }[]>;
  /** Records a failed copy; the blob is not a candidate again before `retryAt(attempts so far)`. */
  offloadFailed(digest: Digest, error: string, retryAt: (attempts: number) => number): Promise<void>;
  offloadStatus(policy: OffloadPolicy): Promise<OffloadStatus>;
}

/**
 * Which repositories hold which content. Content is shared by digest across repositories, but a repository may
 * only be served what it is linked to: that is what keeps a private image out of public names.
 */
export interface RepositoryLinks {
  /** Links digests to a repository (and records the repository). */
  link(key: RepoKey, digests: readonly Digest[]): Promise<void>;
  isLinked(key: RepoKey, digest: Digest): Promise<boolean>;
}

/** A tag and the manifest it names. */
export interface TagRef extends RepoKey {
  tag: string;
  digest: Digest;
  /** Last time a client resolved the tag (ms since epoch); batched like access times. */
  lastPull: number;
}

/** An image an operator pinned: a tag or a digest, whose content is never evicted. */
export interface Pin extends RepoKey {
  reference: string;
}

export interface CacheUsage {
  blobs: CountAndBytes;
  manifests: CountAndBytes;
  /** Least recent access of anything stored; undefined when nothing is. */
  oldestAccess: number | undefined;
}

/**
 * What the cache lifecycle (eviction, retention, GC, purge, pins) reads and removes. Content is removed top-down
 * (tags, then manifests, then what they reference), so no reader finds a record whose content is gone first.
 */
export interface LifecycleIndex {
  cacheUsage(): Promise<CacheUsage>;
  /** Stored content, least recently used first, after the cursor `(lastAccess, digest)`. */
  leastRecentlyUsed(limit: number, after?: { lastAccess: number; digest: Digest }): Promise<BlobRecord[]>;
  /** Stored content by digest, after `after`: a walk of the whole index in pages. */
  listContent(limit: number, after?: Digest): Promise<BlobRecord[]>;
  /** Buffers a tag's resolution by a client, for tag retention; flushed with the access times. */
  recordTagPull(key: RepoKey, tag: string, at: number): void;
  /** Tags no client resolved since `before`. */
  tagsPulledBefore(before: number): Promise<TagRef[]>;
  /** Tags naming a manifest, in every repository. */
  tagsOf(digest: Digest): Promise<TagRef[]>;
  /** A repository's tags with their manifests. */
  tagRefs(key: RepoKey): Promise<TagRef[]>;
  deleteTag(key: RepoKey, tag: string): Promise<void>;
  /** Records what a stored manifest references (config, layers, child manifests). */
  putManifestRefs(digest: Digest, references: readonly Digest[]): Promise<void>;
  manifestChildren(digest: Digest): Promise<Digest[]>;
  /** Stored manifests that reference `digest`. */
  manifestParents(digest: Digest): Promise<Digest[]>;
  /** Forgets a manifest's media type and references (its bytes and index entry go with LocalBlobStore.delete). */
  deleteManifest(digest: Digest): Promise<void>;
  /** Stored manifests whose references were never recorded (stored by an earlier version). */
  manifestsWithoutRefs(limit: number): Promise<Digest[]>;
  /** Stored content that no repository links to any more (its repositories were purged). */
  unlinkedContent(): Promise<BlobRecord[]>;
  /** Stored blobs (not manifests) no stored manifest references, last used before `before`. */
  unreferencedBlobs(before: number): Promise<BlobRecord[]>;
  /** Rows naming what is not stored: tags of missing manifests, manifest records without content. */
  staleRows(): Promise<{ tags: TagRef[]; manifests: Digest[] }>;
  /** Repositories linked to content: where it can be fetched again from. */
  linkedRepositories(digest: Digest): Promise<RepoKey[]>;
  /** Drops a repository's tags, links and tag lists; returns the digests it was linked to. */
  deleteRepository(key: RepoKey): Promise<Digest[]>;
  addPin(pin: Pin): Promise<void>;
  /** False when there was no such pin. */
  removePin(pin: Pin): Promise<boolean>;
  listPins(): Promise<Pin[]>;
}

/**
 * What a usage bucket counts (see src/stats): requests and bytes, cache results, the blob downloads timed for
 * speed (bytes, milliseconds, the fastest), requests by client kind. Every figure adds up, but peakSpeed: the
 * maximum.
 */
export const USAGE_FIGURES = [
  "pulls",
  "manifestRequests",
  "blobRequests",
  "servedBytes",
  "upstreamBytes",
  "hit",
  "miss",
  "joined",
  "redirect",
  "stale",
  "downloadBytes",
  "downloadMs",
  "peakSpeed",
  "docker",
  "containerd",
  "podman",
  "kubelet",
  "other",
] as const;
export type UsageFigures = Record<(typeof USAGE_FIGURES)[number], number>;

/** How long a usage bucket spans; months are calendar months (UTC). */
export type UsageGrain = "minute" | "hour" | "day" | "month";

/** An image's share of a bucket: pulls, and bytes served under its repository. */
export interface ImageUsage {
  /** `registry/repository`, e.g. docker.io/library/alpine. */
  image: string;
  pulls: number;
  bytes: number;
}

/** One bucket's figures; `t` is its start (ms since epoch). */
export interface UsageBucket {
  grain: UsageGrain;
  t: number;
  figures: UsageFigures;
  images: readonly ImageUsage[];
}

/** The usage statistics, in time buckets of each grain; src/stats decides what goes in and what is kept. */
export interface UsageStore {
  /** Adds the buckets' figures and images to the stored ones (peakSpeed: the larger), in one transaction. */
  addUsage(buckets: readonly UsageBucket[]): Promise<void>;
  /** The stored buckets of a grain with `from <= t < to`, oldest first (a bucket nothing happened in has no row). */
  usageSeries(grain: UsageGrain, from: number, to: number): Promise<{ t: number; figures: UsageFigures }[]>;
  /** The images of a grain's buckets with `from <= t < to`, summed per image. */
  usageImages(grain: UsageGrain, from: number, to: number): Promise<ImageUsage[]>;
  /** Drops the buckets of a grain before `before`. */
  pruneUsage(grain: UsageGrain, before: number): Promise<void>;
  /** In each bucket of a grain with `from <= t < to`, keeps the top `keep` images by pulls and by bytes. */
  trimUsageImages(grain: UsageGrain, from: number, to: number, keep: number): Promise<void>;
}

/**
 * What the mirror remembers besides blob bytes, as small role interfaces. Implementations: SQLite (embedded
 * default); a shared database later, hence the async interface. Reads are on the request path and must be fast.
 */
export interface MetadataStore extends BlobIndex, OffloadIndex, RepositoryLinks, LifecycleIndex, UsageStore {
  getTag(key: RepoKey, tag: string): Promise<TagRecord | undefined>;
  /** Only called after the manifest itself is committed, so a tag never points at a missing manifest. */
  putTag(key: RepoKey, tag: string, digest: Digest, checkedAt: number): Promise<void>;
  touchTag(key: RepoKey, tag: string, checkedAt: number): Promise<void>;
  listTags(key: RepoKey): Promise<string[]>;

  getManifest(digest: Digest): Promise<ManifestRecord | undefined>;
  /** Records a committed manifest's media type. */
  putManifest(manifest: ManifestRecord): Promise<void>;

  listRepositories(registry: string, n: number, last: string | undefined): Promise<string[]>;

  putTagList(key: RepoKey, query: string, body: Buffer): Promise<void>;
  getTagList(key: RepoKey, query: string): Promise<Buffer | undefined>;

  setUpstreamStatus(status: UpstreamStatus): Promise<void>;
  getUpstreamStatus(registry: string): Promise<UpstreamStatus | undefined>;

  /** Buffers counter increments, flushed with the access times. */
  addCounters(deltas: Record<string, number>): void;
  getCounters(): Promise<Record<string, number>>;

  /** Users mode's accounts, tokens, sessions, invites and per-user usage (see user-store.ts). */
  readonly users: UserStore;

  flush(): Promise<void>;
  close(): Promise<void>;
}
