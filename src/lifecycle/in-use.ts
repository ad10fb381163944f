import type { Digest } from "../reference/reference.js";

/**
 * Content that must not be removed right now: blobs being downloaded or served, and blobs a client was just
 * redirected to (it fetches them from storage in a moment). Eviction, retention, GC and purge skip these.
 */
export class InUse {
  private readonly counts = new Map<Digest, number>();
  /** Digest → time until which it is held without a reader (redirects). */
  private readonly held = new Map<Digest, number>();

  /** Marks a use; call the returned function (once) when it is over. */
  acquire(digest: Digest): () => void {
    this.counts.set(digest, (this.counts.get(digest) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.counts.get(digest) ?? 1) - 1;
      if (n > 0) this.counts.set(digest, n);
      else this.counts.delete(digest);
    };
  }

  /** Keeps content for `ms` from now (a client was sent to fetch it elsewhere). */
  hold(digest: Digest, ms: number): void {
    const until = Date.now() + ms;
    if ((this.held.get(digest) ?? 0) < until) this.held.set(digest, until);
  }

  has(digest: Digest): boolean {
    if (this.counts.has(digest)) return true;
    const until = this.held.get(digest);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.held.delete(digest);
    return false;
  }

  /** How many digests are in use (for `cache status`). */
  get size(): number {
    return this.counts.size;
  }
}
