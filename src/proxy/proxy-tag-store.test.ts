import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { RegistryError } from "../errors/oci-errors.js";
import { SqliteStore } from "../metadata/sqlite-store.js";
import { ProxyTagStore } from "./proxy-tag-store.js";

const key = { registry: "docker.io", repo: "library/x" };
const body = (tags: string[]) => Buffer.from(JSON.stringify({ name: key.repo, tags }));

/** An upstream that answers with `tags` (paged like a registry) or fails with `failure`; it records queries. */
class FakeTags {
  queries: string[] = [];
  failure: Error | undefined;
  constructor(readonly tags: string[]) {}
  async getTags(_repo: string, query: string) {
    this.queries.push(query);
    if (this.failure) throw this.failure;
    const q = new URLSearchParams(query);
    const from = this.tags.filter((t) => !q.has("last") || t > (q.get("last") ?? ""));
    const page = from.slice(0, Number(q.get("n") ?? from.length));
    return { body: body(page), link: from.length > page.length ? `</next>; rel="next"` : undefined };
  }
}

describe("proxy tag store", () => {
  let meta: SqliteStore;
  let store: ProxyTagStore;
  let upstream: FakeTags;
  beforeEach(() => {
    meta = new SqliteStore(":memory:");
    store = new ProxyTagStore(meta);
    upstream = new FakeTags(["a", "b", "c"]);
  });
  afterEach(() => meta.close());

  it("proxies the page asked for, with upstream's Link, and keeps a copy of it", async () => {
    const page = await store.list(upstream, key, 1, "a");
    assert.deepEqual(upstream.queries, ["n=1&last=a"]);
    assert.deepEqual(JSON.parse(page.body.toString()).tags, ["b"]);
    assert.equal(page.stale, false);
    assert.equal(page.link, `</next>; rel="next"`);
    assert.deepEqual(await meta.getTagList(key, "n=1&last=a"), page.body);
  });

  it("answers the same page from its copy when upstream fails", async () => {
    const fresh = await store.list(upstream, key, 1, "a");
    upstream.failure = new RegistryError("UPSTREAM_UNAVAILABLE");
    const stale = await store.list(upstream, key, 1, "a");
    assert.equal(stale.stale, true);
    assert.deepEqual(stale.body, fresh.body);
    await assert.rejects(
      store.list(upstream, key, 2, "a"),
      /upstream registry unavailable/,
      "no copy of that page",
    );
  });

  it("without a copy, pages through the tags held locally", async () => {
    for (const tag of ["v1", "v2", "v3"]) await meta.putTag(key, tag, `sha256:${"1".repeat(64)}`, 1);
    upstream.failure = new RegistryError("UPSTREAM_ERROR");
    const first = await store.list(upstream, key, 1, "v1");
    assert.deepEqual(JSON.parse(first.body.toString()), { name: key.repo, tags: ["v2"] });
    assert.equal(first.stale, true);
    assert.equal(first.more, "v2");
    const rest = await store.list(upstream, key, undefined, "v1");
    assert.deepEqual(JSON.parse(rest.body.toString()).tags, ["v2", "v3"]);
    assert.equal(rest.more, undefined);
  });

  it("passes on a repository upstream doesn't know, whatever it holds", async () => {
    await store.list(upstream, key, undefined, undefined);
    upstream.failure = new RegistryError("NAME_UNKNOWN");
    await assert.rejects(store.list(upstream, key, undefined, undefined), (e: RegistryError) => {
      return e.code === "NAME_UNKNOWN";
    });
  });
});
