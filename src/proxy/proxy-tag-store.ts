import { RegistryError } from "../errors/oci-errors.js";
import type { MetadataStore, RepoKey } from "../metadata/store.js";
import type { Upstream } from "../upstream/upstream.js";

export interface TagList {
  /** The `{name, tags}` JSON. */
  body: Buffer;
  /** Upstream failed and this is what we hold instead. */
  stale: boolean;
  /** Upstream's Link header for the next page, passed on as it is. */
  link?: string | undefined;
  /** Built from the tags we hold: the page's last tag when more follow. */
  more?: string | undefined;
}

/** Upstream says the repository is not there (or we failed ourselves): a kept copy would hide that. */
function definitive(err: unknown): boolean {
  return err instanceof RegistryError && (err.code === "NAME_UNKNOWN" || err.code === "UNKNOWN");
}

function pageQuery(n: number | undefined, last: string | undefined): string {
  const query = new URLSearchParams();
  if (n !== undefined) query.set("n", String(n));
  if (last !== undefined) query.set("last", last);
  return query.toString();
}

/**
 * Tag lists: always asked upstream (a list has no digest to revalidate against), each page kept by its query so
 * that when upstream fails the same page can be answered from the last copy, else from the tags pulled through.
 */
export class ProxyTagStore {
  constructor(private readonly meta: Pick<MetadataStore, "putTagList" | "getTagList" | "listTags">) {}

  async list(
    upstream: Pick<Upstream, "getTags">,
    key: RepoKey,
    n: number | undefined,
    last: string | undefined,
  ): Promise<TagList> {
    const query = pageQuery(n, last);
    let fresh: { body: Buffer; link: string | undefined };
    try {
      fresh = await upstream.getTags(key.repo, query);
    } catch (err) {
      if (definitive(err)) throw err;
      return this.fallback(key, query, n, last, err);
    }
    await this.meta.putTagList(key, query, fresh.body);
    return { body: fresh.body, stale: false, link: fresh.link };
  }

  private async fallback(
    key: RepoKey,
    query: string,
    n: number | undefined,
    last: string | undefined,
    err: unknown,
  ): Promise<TagList> {
    const copy = await this.meta.getTagList(key, query);
    if (copy) return { body: copy, stale: true };
    const held = (await this.meta.listTags(key)).filter((t) => last === undefined || t > last);
    if (held.length === 0) throw err;
    const page = held.slice(0, n ?? held.length);
    const more = n !== undefined && held.length > n ? page[page.length - 1] : undefined;
    return { body: Buffer.from(JSON.stringify({ name: key.repo, tags: page })), stale: true, more };
  }
}
