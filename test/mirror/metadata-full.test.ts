// A metadata database that takes no more writes (SQLITE_FULL: its disk is full) degrades caching, never serving:
// manifests and blobs are answered from upstream, and a blob whose bytes reached the store before its index write
// failed is served from there. Once writes work again, the next requests cache as usual. The database is the
// mirror's real one; its write methods throw a real better-sqlite3 SQLITE_FULL error while the test says so.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { MetadataStore } from "../../src/metadata/store.js";
import type { Digest } from "../../src/reference/reference.js";
import { addImage, pull } from "../fakes/cache-kit.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";

/** The error better-sqlite3 throws when the database can't grow: made for real, on a database capped at 2 pages. */
function sqliteFull(): Error {
  const db = new Database(":memory:");
  try {
    db.pragma("max_page_count = 2");
    db.exec("CREATE TABLE t (x BLOB)");
    for (;;) db.prepare("INSERT INTO t VALUES (randomblob(4096))").run();
  } catch (err) {
    return err as Error;
  } finally {
    db.close();
  }
}

const WRITES = ["putBlob", "putManifest", "putManifestRefs", "putTag", "touchTag", "link"] as const;

/** Makes the store's writes fail with `err` until the returned undo is called. */
function failWrites(meta: MetadataStore, err: Error): () => void {
  const m = meta as unknown as Record<string, unknown>;
  const saved = WRITES.map((name) => [name, m[name]] as const);
  for (const name of WRITES) m[name] = () => Promise.reject(err);
  return () => {
    for (const [name, write] of saved) m[name] = write;
  };
}

describe("a metadata database that can't be written", { timeout: 60_000 }, () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  before(async () => {
    hub = await new FakeHub().start();
    mirror = await startInProcessMirror(hub.url);
  });
  after(async () => {
    await mirror.stop();
    await hub.stop();
  });

  it("serves every manifest and blob, caches none, and caches again once it can", async () => {
    const full = sqliteFull();
    assert.equal((full as NodeJS.ErrnoException).code, "SQLITE_FULL");
    const img = addImage(hub, "library/dbfull", [randomBytes(3 << 20)]);
    const layer = img.layers[0] as Digest;
    const undo = failWrites(mirror.meta, full);
    try {
      // Every body is checked against its size and digest by pull().
      await pull(mirror, img);
      const errors = await mirror.metrics.value("hubmirror_local_write_errors_total", {
        what: "metadata",
        kind: "no_space",
      });
      assert.ok(errors >= 3, `manifest, config and layer writes counted (${errors})`);
      assert.equal(await mirror.metrics.value("hubmirror_blob_fills_total", { outcome: "degraded" }), 2);
      assert.equal(await mirror.meta.getBlob(img.manifest), undefined, "the manifest is not indexed");
      assert.equal(await mirror.meta.getBlob(layer), undefined, "the layer is not indexed");
      assert.equal(await mirror.meta.getTag({ registry: "docker.io", repo: img.repo }, img.tag), undefined);
      // The layer's bytes reached the store before the index write failed: found there and served, still unindexed.
      const upstreamGets = hub.count("GET", new RegExp(layer));
      const again = await mirror.text(`/v2/${img.repo}/blobs/${layer}`);
      assert.equal(again.status, 200);
      assert.equal(again.body.length, img.sizes.get(layer));
      assert.equal(hub.count("GET", new RegExp(layer)), upstreamGets, "served from the store");
    } finally {
      undo();
    }
    await pull(mirror, img);
    assert.ok(await mirror.meta.getBlob(layer), "the layer is indexed now");
    assert.ok(await mirror.meta.getBlob(img.manifest), "and the manifest");
    assert.ok(await mirror.meta.getTag({ registry: "docker.io", repo: img.repo }, img.tag), "and the tag");
  });
});
