import { LRUCache } from "lru-cache";
import { SingleFlight } from "../async/single-flight.js";
import type { Logger } from "../log/logger.js";
import type { RepoKey, RepositoryLinks } from "../metadata/store.js";
import type { Digest } from "../reference/reference.js";
import type { Upstream } from "../upstream/upstream.js";

/** A repository of one upstream, as a request resolved it: what the proxy stores work on. */
export interface RepoRef {
  upstream: Upstream;
  key: RepoKey;
}

/**
 * Which repository may be served which cached content. Content is stored once by digest, but a digest pulled
 * through one name must not be served under another unless upstream has it there too: else a private image
 * fetched with the mirror's credentials would leak through any public name that asks for its digest.
 */
export class RepoLinks {
  /** Links known to exist, so a warm hit costs no database read and writes nothing. */
  private readonly known = new LRUCache<string, true>({ max: 100_000 });
  private readonly checks = new SingleFlight<string, void>();

  constructor(
    private readonly meta: RepositoryLinks,
    private readonly log: Logger,
  ) {}

  /** Records that upstream has these digests in the repository; known at once, written in the background. */
  link(key: RepoKey, digests: readonly Digest[]): Promise<void> {
    const fresh = digests.filter((d) => !this.known.has(id(key, d)));
    if (fresh.length === 0) return Promise.resolve();
    for (const d of fresh) this.known.set(id(key, d), true);
    return this.meta.link(key, fresh).catch((err: Error) => {
      for (const d of fresh) this.known.delete(id(key, d));
      this.log.warn({ repo: key.repo, err: err.message }, "could not record repository links");
    });
  }

  /**
   * Forgets what is known of a repository whose links were deleted (a purge): else its next pull would find its
   * links "known", write none, and its new content would look unlinked to GC.
   */
  forgetRepository(key: RepoKey): void {
    const prefix = `${key.registry}/${key.repo}@`;
    for (const k of [...this.known.keys()]) if (k.startsWith(prefix)) this.known.delete(k);
  }

  /**
   * Resolves when the repository may be served the digest: it is linked, or upstream confirms with a HEAD (free
   * on the Hub's quota) and it is linked from then on. Otherwise throws upstream's answer (BLOB_UNKNOWN…).
   */
  async authorize({ upstream, key }: RepoRef, digest: Digest, kind: "blob" | "manifest"): Promise<void> {
    const k = id(key, digest);
    if (this.known.has(k)) return;
    if (await this.meta.isLinked(key, digest)) {
      this.known.set(k, true);
      return;
    }
    await this.checks.do(k, async () => {
      if (kind === "blob") await upstream.headBlob(key.repo, digest);
      else await upstream.headManifest(key.repo, digest);
      await this.link(key, [digest]);
    });
  }
}

function id(key: RepoKey, digest: Digest): string {
  return `${key.registry}/${key.repo}@${digest}`;
}
