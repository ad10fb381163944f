import { setTimeout as sleep } from "node:timers/promises";
import { LRUCache } from "lru-cache";
import { SingleFlight } from "../async/single-flight.js";
import { cacheWrite } from "../errors/local-write.js";
import type { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { MetadataStore, RepoKey } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import { type Digest, digestAlgorithm, digestHex, digestOf } from "../reference/reference.js";
import type { LocalBlobStore } from "../store/blob-store.js";
import { parseManifestJson } from "../upstream/upstream-json.js";
import { referencesOf } from "./manifest-references.js";
import type { CacheResult } from "./proxy-blob-store.js";
import type { RepoLinks, RepoRef } from "./repo-links.js";

export interface Manifest {
  digest: Digest;
  mediaType: string;
  body: Buffer;
  result: CacheResult;
}

export interface ProxyManifestOptions {
  store: LocalBlobStore;
  links: RepoLinks;
  meta: MetadataStore;
  /** How long a tag of the registry is served before it is revalidated. */
  tagTtl: (registry: string) => number;
  staleAfter: number;
  memoryBytes: number;
  metrics: Metrics;
  log: Logger;
  /** Manifest bytes received from upstream (the usage statistics). */
  onUpstreamBytes?: (n: number) => void;
}

const TIMED_OUT = Symbol("timed out");

/** Upstream answered, and the answer is final: no stale copy should hide it. */
function definitive(err: unknown): boolean {
  const code = (err as RegistryError).code;
  return code === "MANIFEST_UNKNOWN" || code === "NAME_UNKNOWN";
}

/**
 * Manifests. By digest: local, else fetched, verified and kept for good. By tag: the cached digest within the
 * TTL; after it, revalidated with a HEAD (free on the Hub's quota) and re-fetched only when the digest moved. When
 * upstream is slow, down or rate-limiting, the cached copy is served instead (result "stale").
 */
export class ProxyManifestStore {
  private readonly memory: LRUCache<Digest, { mediaType: string; body: Buffer }>;
  private readonly flights = new SingleFlight<string, Manifest>();

  constructor(private readonly o: ProxyManifestOptions) {
    this.memory = new LRUCache({ maxSize: o.memoryBytes, sizeCalculation: (v) => v.body.length + 200 });
  }

  async byDigest(repo: RepoRef, digest: Digest): Promise<Manifest> {
    const { upstream: up, key } = repo;
    const local = await this.local(digest);
    if (local) {
      await this.o.links.authorize(repo, digest, "manifest");
      return local;
    }
    return this.flights.do(`${key.registry}/${key.repo}@${digest}`, async () => {
      // Verified against `digest` by getManifest.
      const m = await up.getManifest(key.repo, digest);
      return this.store(key, m.digest, m.mediaType, m.body);
    });
  }

  async byTag(repo: RepoRef, tag: string): Promise<Manifest> {
    const { key } = repo;
    const rec = await this.o.meta.getTag(key, tag);
    const cached = rec && (await this.local(rec.digest));
    // The tag is this repository's own record, so its manifest needs no link check.
    if (!rec || !cached) {
      return this.flights.do(`${key.registry}/${key.repo}:${tag}`, () => this.fetchTag(repo, tag));
    }
    this.o.meta.recordTagPull(key, tag, Date.now());
    if (Date.now() - rec.checkedAt < this.o.tagTtl(key.registry)) return cached;

    const revalidation = this.flights.do(`${key.registry}/${key.repo}:${tag}`, () =>
      this.revalidate(repo, tag, cached),
    );
    try {
      const fresh = await Promise.race([revalidation, sleep(this.o.staleAfter, TIMED_OUT, { ref: false })]);
      if (fresh !== TIMED_OUT) return fresh;
      revalidation.catch((err: Error) =>
        this.o.log.warn({ tag, err: err.message }, "late revalidation failed"),
      );
      this.o.log.warn(
        { repo: key.repo, tag, ms: this.o.staleAfter },
        "upstream slow: serving cached manifest",
      );
    } catch (err) {
      if (definitive(err)) throw err;
      this.o.log.warn(
        { repo: key.repo, tag, err: (err as Error).message },
        "upstream failed: serving cached manifest",
      );
    }
    return { ...cached, result: "stale" };
  }

  private async revalidate(repo: RepoRef, tag: string, cached: Manifest): Promise<Manifest> {
    const { upstream: up, key } = repo;
    const head = await up.headManifest(key.repo, tag);
    if (head.digest !== cached.digest) return this.fetchTag(repo, tag);
    await this.cacheWrite({ repo: key.repo, tag }, () => this.o.meta.touchTag(key, tag, Date.now()));
    return cached;
  }

  private async fetchTag(repo: RepoRef, tag: string): Promise<Manifest> {
    const { upstream: up, key } = repo;
    const m = await up.getManifest(key.repo, tag);
    const stored = await this.store(key, m.digest, m.mediaType, m.body);
    await this.cacheWrite({ repo: key.repo, tag }, () => this.o.meta.putTag(key, tag, m.digest, Date.now()));
    return stored;
  }

  /**
   * Commits bytes, then metadata: a crash in between leaves an unreferenced blob, never a dangling record. The
   * repository is linked to the manifest and to everything it references, which upstream vouches it holds.
   * `contentType` (upstream's header) counts only when the manifest has no mediaType field of its own.
   */
  private async store(key: RepoKey, digest: Digest, contentType: string, body: Buffer): Promise<Manifest> {
    this.o.onUpstreamBytes?.(body.length);
    const parsed = parseManifestJson(body);
    const mediaType = parsed.mediaType || contentType;
    const references = referencesOf(parsed);
    const manifest: Manifest = { digest, mediaType, body, result: "miss" };
    const stored = await this.cacheWrite({ repo: key.repo, digest }, async () => {
      await this.o.store.put(digest, body);
      await this.o.meta.putManifest({ digest, mediaType, size: body.length });
      await this.o.meta.putManifestRefs(digest, references);
    });
    if (!stored) return manifest;
    await this.o.links.link(key, [digest, ...references]);
    this.memory.set(digest, { mediaType, body });
    return manifest;
  }

  /** A write to the cache that a full disk or a failing database turns into a log line, not a failed request. */
  private cacheWrite(fields: Record<string, unknown>, write: () => Promise<unknown>): Promise<boolean> {
    return cacheWrite(this.o.log, this.o.metrics, "manifest", fields, write);
  }

  /** Drops the in-memory copy of a manifest removed from the store: the next request looks it up again. */
  forget(digest: Digest): void {
    this.memory.delete(digest);
  }

  /** A stored manifest, GET or HEAD alike, recorded as a use. */
  private async local(digest: Digest): Promise<Manifest | undefined> {
    const hot = this.memory.get(digest);
    if (hot) {
      this.o.store.touch(digest);
      return { digest, ...hot, result: "hit" };
    }
    const rec = (await this.o.store.stat(digest)) && (await this.o.meta.getManifest(digest));
    if (!rec) return undefined;
    let body: Buffer;
    try {
      body = await this.o.store.get(digest);
    } catch {
      return undefined;
    }
    this.o.store.touch(digest);
    if (digestHex(digestOf(body, digestAlgorithm(digest))) !== digestHex(digest)) {
      this.o.log.error({ digest }, "stored manifest fails its digest; refetching");
      return undefined;
    }
    this.memory.set(digest, { mediaType: rec.mediaType, body });
    return { digest, mediaType: rec.mediaType, body, result: "hit" };
  }
}
