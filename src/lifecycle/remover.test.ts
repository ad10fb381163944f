import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { pino } from "pino";
import { SqliteStore } from "../metadata/sqlite-store.js";
import { Metrics } from "../metrics/metrics.js";
import type { Digest } from "../reference/reference.js";
import { MemoryDriver } from "../storage/memory-driver.js";
import { LocalBlobStore } from "../store/blob-store.js";
import { blobPath } from "../store/layout.js";
import { InUse } from "./in-use.js";
import { Pins } from "./pins.js";
import { ContentRemover } from "./remover.js";

const HUB = { registry: "docker.io", repo: "library/app" };

function digestOf(body: Buffer): Digest {
  return `sha256:${createHash("sha256").update(body).digest("hex")}`;
}

/** A store holding index → image → (config, layer), tagged `latest`, and what removes from it. */
async function setup() {
  const meta = new SqliteStore(":memory:");
  const driver = new MemoryDriver();
  const store = new LocalBlobStore({ primary: driver, index: meta });
  const inUse = new InUse();
  const metrics = new Metrics();
  const forgotten: Digest[] = [];
  const remover = new ContentRemover({
    store,
    meta,
    inUse,
    metrics,
    log: pino({ level: "silent" }),
    onRemoved: (digest) => forgotten.push(digest),
  });
  const put = async (text: string, kind: "blob" | "manifest") => {
    const body = Buffer.from(text);
    const digest = digestOf(body);
    if (kind === "manifest") {
      await store.put(digest, body);
      await meta.putManifest({ digest, mediaType: "application/json", size: body.length });
    } else {
      const w = await store.writer(digest);
      await w.write(body);
      await w.commit();
    }
    return digest;
  };
  const config = await put("config", "blob");
  const layer = await put("layer bytes", "blob");
  const image = await put(`image ${config} ${layer}`, "manifest");
  const index = await put(`index ${image}`, "manifest");
  await meta.putManifestRefs(image, [config, layer]);
  await meta.putManifestRefs(index, [image]);
  await meta.putTag(HUB, "latest", index, Date.now());
  const stored = async (digest: Digest) =>
    (await meta.getBlob(digest)) !== undefined || (await driver.stat(blobPath(digest))) !== undefined;
  return { meta, store, inUse, metrics, remover, forgotten, config, layer, image, index, stored };
}

describe("content remover", () => {
  it("removes what depends on content first: the tag, the index, the image, then the layer", async () => {
    const s = await setup();
    const plan = await s.remover.plan(s.layer, new Set());
    assert.deepEqual(
      plan?.map((r) => r.digest),
      [s.index, s.image, s.layer],
    );
    const removed = await s.remover.remove(s.layer, "cap");
    assert.deepEqual(
      removed.map((r) => r.digest),
      [s.index, s.image, s.layer],
    );
    assert.equal(await s.meta.getTag(HUB, "latest"), undefined, "no tag names a removed manifest");
    assert.equal(await s.meta.getManifest(s.image), undefined);
    for (const d of [s.index, s.image, s.layer]) assert.equal(await s.stored(d), false, `${d} is gone`);
    assert.equal(await s.stored(s.config), true, "the config no removed content needed stays");
    assert.deepEqual(s.forgotten, [s.index, s.image, s.layer]);
    assert.equal(await s.metrics.value("hubmirror_cache_removals_total", { reason: "cap" }), 3);
    const bytes = removed.reduce((n, r) => n + r.size, 0);
    assert.equal(await s.metrics.value("hubmirror_cache_removed_bytes_total", { reason: "cap" }), bytes);
  });

  it("leaves everything when any of it is in use or protected", async () => {
    const s = await setup();
    const release = s.inUse.acquire(s.image);
    assert.deepEqual(await s.remover.remove(s.layer, "cap"), []);
    release();
    assert.deepEqual(await s.remover.remove(s.layer, "cap", new Set([s.index])), []);
    s.inUse.hold(s.config, 60_000);
    assert.deepEqual(await s.remover.remove(s.config, "gc"), []);
    for (const d of [s.index, s.image, s.layer, s.config]) assert.equal(await s.stored(d), true);
    assert.equal((await s.remover.remove(s.layer, "cap")).length, 3, "once released, it goes");
  });

  it("protects a pinned tag's whole closure", async () => {
    const s = await setup();
    const pins = new Pins(s.meta, [{ ...HUB, reference: "latest" }]);
    const closure = await pins.closure();
    assert.deepEqual([...closure].sort(), [s.index, s.image, s.config, s.layer].sort());
    for (const d of closure) assert.deepEqual(await s.remover.remove(d, "cap", closure), []);
    await s.meta.addPin({ ...HUB, reference: s.image });
    assert.equal((await pins.list()).length, 2);
    assert.equal(pins.isConfigured({ ...HUB, reference: "latest" }), true);
    assert.equal(pins.isConfigured({ ...HUB, reference: s.image }), false);
  });
});

describe("in-use set", () => {
  it("counts uses, releases once each, and expires holds", async () => {
    const u = new InUse();
    const d = `sha256:${"a".repeat(64)}` as Digest;
    const a = u.acquire(d);
    const b = u.acquire(d);
    a();
    a();
    assert.equal(u.has(d), true, "a double release does not free the other user's use");
    b();
    assert.equal(u.has(d), false);
    u.hold(d, 20);
    assert.equal(u.has(d), true);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(u.has(d), false);
  });
});
