import type { MetadataStore } from "../metadata/store.js";
import type { Digest } from "../reference/reference.js";
import type { ContentRemover } from "./remover.js";

const PAGE = 200;

/** Removable content and its last use. */
export interface Candidate {
  digest: Digest;
  /** The latest use of it or of anything its removal would take with it (ms since epoch). */
  lastUse: number;
}

/**
 * Stored content, least recently used first, for LRU eviction and retention. Content's last use counts the
 * manifests that reference it: removing a layer removes every manifest (and tag) that needs it, so a layer that
 * clients already hold, and never fetch, is as recent as the newest image using it — evicting it would take hot
 * images down with it. Content that can't be removed now (in use, pinned) is left out and counted as skipped.
 */
export class LastUseOrder implements AsyncIterable<Candidate> {
  /** Candidates passed over: in use, pinned, or needed by something that is. */
  skipped = 0;

  constructor(
    private readonly meta: Pick<MetadataStore, "leastRecentlyUsed" | "getBlob">,
    private readonly remover: Pick<ContentRemover, "plan">,
    private readonly protect: ReadonlySet<Digest>,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Candidate> {
    // Content whose dependents were used later than itself, by that later time: it comes when the walk gets there.
    const deferred: Candidate[] = [];
    let after: { lastAccess: number; digest: Digest } | undefined;
    for (;;) {
      const page = await this.meta.leastRecentlyUsed(PAGE, after);
      for (const rec of page) {
        after = { lastAccess: rec.lastAccess, digest: rec.digest };
        while (deferred[0] && deferred[0].lastUse <= rec.lastAccess) {
          yield* this.check(deferred.shift() as Candidate, deferred);
        }
        yield* this.check({ digest: rec.digest, lastUse: rec.lastAccess }, deferred);
      }
      if (page.length < PAGE) break;
    }
    while (deferred.length > 0) yield* this.check(deferred.shift() as Candidate, deferred);
  }

  /** Yields `c` if it is removable and nothing it takes along was used later; defers it if something was. */
  private async *check(c: Candidate, deferred: Candidate[]): AsyncGenerator<Candidate> {
    const plan = await this.remover.plan(c.digest, this.protect);
    if (!plan) {
      // Gone already (removed with something earlier in this walk) is not skipped.
      if (await this.meta.getBlob(c.digest)) this.skipped++;
      return;
    }
    const lastUse = plan.reduce((t, r) => Math.max(t, r.lastAccess), c.lastUse);
    if (lastUse === c.lastUse) {
      yield c;
      return;
    }
    const later = { digest: c.digest, lastUse };
    const i = deferred.findIndex((d) => d.lastUse > lastUse);
    deferred.splice(i < 0 ? deferred.length : i, 0, later);
  }
}
