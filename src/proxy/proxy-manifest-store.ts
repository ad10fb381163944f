import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { LRUCache } from "lru-cache";
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { MetadataStore, RepoKey } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import { type Digest, digestAlgorithm, digestHex } from "../reference/reference.js";
import type { StorageDriver } from "../storage/driver.js";
import { blobPath } from "../storage/layout.js";
import type { Upstream, UpstreamManifest } from "../upstream/upstream.js";
import type { CacheResult } from "./proxy-blob-store.js";

export interface Manifest {
  digest: Digest;
  mediaType: string;
  body: Buffer;
  result: CacheResult;
}

export interface ProxyManifestOptions {
  driver: StorageDriver;
  meta: MetadataStore;
  upstreams: (registry: string) => Upstream;
  tagTtl: number;
  staleAfter: number;
  memoryBytes: number;
  metrics: Metrics;
  log: Logger;
}

const TIMED_OUT = Symbol("timed out");

function hashOf(body: Buffer, algorithm = "sha256"): Digest {
  return `${algorithm}:${createHash(algorithm).update(body).digest("hex")}`;
}

/** The manifest's own mediaType field wins over a Content-Type header that may be generic. */
function mediaTypeOf(m: UpstreamManifest): string {
  try {
    const field = (JSON.parse(m.body.toString("utf8")) as { mediaType?: unknown }).mediaType;
    if (typeof field === "string" && field) return field;
  } catch {
    throw new RegistryError("MANIFEST_INVALID", "upstream manifest is not JSON");
  }
  return m.mediaType;
}

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
  private readonly flights = new Map<string, Promise<Manifest>>();

  constructor(private readonly o: ProxyManifestOptions) {
    this.memory = new LRUCache({ maxSize: o.memoryBytes, sizeCalculation: (v) => v.body.length + 200 });
  }

  async byDigest(key: RepoKey, digest: Digest): Promise<Manifest> {
    const local = await this.local(digest);
    if (local) return local;
    return this.once(`${key.registry}/${key.repo}@${digest}`, async () => {
      const m = await this.o.upstreams(key.registry).getManifest(key.repo, digest);
      if (hashOf(m.body, digestAlgorithm(digest)) !== digest) {
        throw new RegistryError("UPSTREAM_ERROR", `upstream manifest does not match ${digest}`);
      }
      return this.store(key, digest, mediaTypeOf(m), m.body);
    });
  }

  async byTag(key: RepoKey, tag: string): Promise<Manifest> {
    const rec = await this.o.meta.getTag(key, tag);
    const cached = rec && (await this.local(rec.digest));
    if (!rec || !cached)
      return this.once(`${key.registry}/${key.repo}:${tag}`, () => this.fetchTag(key, tag));
    if (Date.now() - rec.checkedAt < this.o.tagTtl) return cached;

    const revalidation = this.once(`${key.registry}/${key.repo}:${tag}`, () =>
      this.revalidate(key, tag, cached),
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

  private async revalidate(key: RepoKey, tag: string, cached: Manifest): Promise<Manifest> {
    const head = await this.o.upstreams(key.registry).headManifest(key.repo, tag);
    if (head.digest !== cached.digest) return this.fetchTag(key, tag);
    await this.o.meta.touchTag(key, tag, Date.now());
    return cached;
  }

  private async fetchTag(key: RepoKey, tag: string): Promise<Manifest> {
    const m = await this.o.upstreams(key.registry).getManifest(key.repo, tag);
    const digest = hashOf(m.body, m.digest ? digestAlgorithm(m.digest) : "sha256");
    if (m.digest && m.digest !== digest) {
      throw new RegistryError(
        "UPSTREAM_ERROR",
        `upstream manifest ${key.repo}:${tag} does not match ${m.digest}`,
      );
    }
    const stored = await this.store(key, digest, mediaTypeOf(m), m.body);
    await this.o.meta.putTag(key, tag, digest, Date.now());
    return stored;
  }

  /** Commits bytes, then metadata: a crash in between leaves an unreferenced blob, never a dangling record. */
  private async store(key: RepoKey, digest: Digest, mediaType: string, body: Buffer): Promise<Manifest> {
    await this.o.driver.putContent(blobPath(digest), body);
    await this.o.meta.putManifest(key, { digest, mediaType, size: body.length });
    this.memory.set(digest, { mediaType, body });
    return { digest, mediaType, body, result: "miss" };
  }

  private async local(digest: Digest): Promise<Manifest | undefined> {
    const hot = this.memory.get(digest);
    if (hot) return { digest, ...hot, result: "hit" };
    const rec = await this.o.meta.getManifest(digest);
    if (!rec) return undefined;
    let body: Buffer;
    try {
      body = await this.o.driver.getContent(blobPath(digest));
    } catch {
      return undefined;
    }
    if (digestHex(hashOf(body, digestAlgorithm(digest))) !== digestHex(digest)) {
      this.o.log.error({ digest }, "stored manifest fails its digest; refetching");
      return undefined;
    }
    this.memory.set(digest, { mediaType: rec.mediaType, body });
    return { digest, mediaType: rec.mediaType, body, result: "hit" };
  }

  /** One upstream operation per key at a time; concurrent callers share it. */
  private once(key: string, fn: () => Promise<Manifest>): Promise<Manifest> {
    let p = this.flights.get(key);
    if (!p) {
      p = fn().finally(() => this.flights.delete(key));
      this.flights.set(key, p);
    }
    return p;
  }
}
