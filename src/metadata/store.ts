import type { Digest } from "../reference/reference.js";

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

/**
 * What the mirror remembers besides blob bytes. Implementations: SQLite (embedded default); a shared database
 * later, hence the async interface. Reads are on the request path and must be fast.
 */
export interface MetadataStore {
  getTag(key: RepoKey, tag: string): Promise<TagRecord | undefined>;
  /** Only called after the manifest itself is committed, so a tag never points at a missing manifest. */
  putTag(key: RepoKey, tag: string, digest: Digest, checkedAt: number): Promise<void>;
  touchTag(key: RepoKey, tag: string, checkedAt: number): Promise<void>;
  listTags(key: RepoKey): Promise<string[]>;

  getManifest(digest: Digest): Promise<ManifestRecord | undefined>;
  /** Records a committed manifest and links it to the repository it was pulled through. */
  putManifest(key: RepoKey, manifest: ManifestRecord): Promise<void>;

  /** Records that a committed blob was seen in a repository. */
  linkBlob(key: RepoKey, digest: Digest, size: number): Promise<void>;
  /** Buffers a last-access time; flushed in one batch, never a write per request. */
  recordAccess(digest: Digest, at: number): void;

  listRepositories(registry: string, n: number, last: string | undefined): Promise<string[]>;

  putTagList(key: RepoKey, query: string, body: Buffer): Promise<void>;
  getTagList(key: RepoKey, query: string): Promise<Buffer | undefined>;

  setUpstreamStatus(status: UpstreamStatus): Promise<void>;
  getUpstreamStatus(registry: string): Promise<UpstreamStatus | undefined>;

  /** Buffers counter increments, flushed with the access times. */
  addCounters(deltas: Record<string, number>): void;
  getCounters(): Promise<Record<string, number>>;

  flush(): Promise<void>;
  close(): Promise<void>;
}
