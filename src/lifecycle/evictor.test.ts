// LRU eviction against a real store (SQLite index, filesystem storage) behind an in-process mirror and a FakeHub.
// Access times are set in the database: a test says which content is old instead of sleeping.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { statfs } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import {
  addImage,
  adminPost,
  bytesOf,
  type FakeImage,
  isStored,
  pull,
  setLastAccess,
  storedOf,
} from "../../test/fakes/cache-kit.js";
import { FakeHub } from "../../test/fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../../test/fakes/mirror.js";
import { eventually, sha256Digest } from "../../test/helpers.js";
import type { ConfigInput } from "../config/schema.js";
import type { Digest } from "../reference/reference.js";
import { type EvictionResult, Evictor } from "./evictor.js";

const HOUR = 3_600_000;

let hub: FakeHub;
const mirrors: InProcessMirror[] = [];

before(async () => {
  hub = await new FakeHub().start();
});

after(async () => {
  for (const m of mirrors) await m.stop();
  await hub.stop();
});

async function mirror(cache: ConfigInput["cache"] = {}): Promise<InProcessMirror> {
  const m = await startInProcessMirror(hub.url, { cache: { evictionInterval: "1h", ...cache } });
  mirrors.push(m);
  return m;
}

/** An evictor over the mirror's store with its own cap (the mirror's own has none, or another). */
function evictorOf(m: InProcessMirror, maxSize: number): Evictor {
  return new Evictor({
    meta: m.meta,
    remover: m.lifecycle.remover,
    pins: m.lifecycle.pins,
    diskFree: async () => undefined,
    maxSize,
    minFreeDisk: undefined,
    interval: HOUR,
    metrics: m.metrics,
    log: m.log,
  });
}

async function cacheBytes(m: InProcessMirror): Promise<number> {
  await m.meta.flush();
  const u = await m.meta.cacheUsage();
  return u.blobs.bytes + u.manifests.bytes;
}

let n = 0;
/** A new image of one random layer of `size` bytes (plus `shared` layers), added to the hub. */
function image(size: number, shared: Buffer[] = []): FakeImage {
  return addImage(hub, `acme/img-${n++}`, [...shared, randomBytes(size)]);
}

describe("LRU eviction", () => {
  it("removes the least recently used images first, until under the cap", async () => {
    const m = await mirror();
    const [a, b, c, d] = [image(50_000), image(50_000), image(50_000), image(50_000)] as const;
    for (const img of [a, b, c, d]) await pull(m, img);
    const t0 = Date.now() - HOUR;
    // Least recently used first: a, c, d, b.
    for (const [img, at] of [
      [a, t0],
      [c, t0 + 1000],
      [d, t0 + 2000],
      [b, t0 + 3000],
    ] as const)
      await setLastAccess(m, img.content, at);
    const total = await cacheBytes(m);
    // Taking a is not enough, taking c's layer too is.
    const cap = total - bytesOf(a) - layerBytes(c) / 2;

    const result = await evictorOf(m, cap).run();

    for (const gone of [a, c]) {
      assert.equal(await m.meta.getTag({ registry: "docker.io", repo: gone.repo }, "latest"), undefined);
      assert.deepEqual(await storedOf(m, [gone.manifest, ...gone.layers]), [], `${gone.repo} evicted`);
    }
    for (const kept of [b, d]) {
      assert.deepEqual(await storedOf(m, kept.content), kept.content, `${kept.repo} kept`);
      assert.ok(await m.meta.getTag({ registry: "docker.io", repo: kept.repo }, "latest"));
    }
    assert.ok(result.cacheBytes <= cap, `${result.cacheBytes} ≤ ${cap}`);
    assert.equal(result.cacheBytes, await cacheBytes(m));
    assert.equal(result.freedBytes, total - result.cacheBytes);
    assert.equal(
      await m.metrics.value("hubmirror_cache_removed_bytes_total", { reason: "cap" }),
      result.freedBytes,
    );
    assert.equal(await m.metrics.value("hubmirror_cache_bytes"), result.cacheBytes, "the gauge");
  });

  it("counts a shared layer as used as recently as the newest image that references it", async () => {
    const m = await mirror();
    const base = randomBytes(60_000);
    const e = image(30_000, [base]);
    const f = image(30_000, [base]);
    for (const img of [e, f]) await pull(m, img);
    const baseDigest = sha256Digest(base) as Digest;
    const t0 = Date.now() - HOUR;
    // Clients already held the base layer: it was fetched once, long ago, and never since.
    await setLastAccess(m, [baseDigest], t0);
    await setLastAccess(m, without(e.content, baseDigest), t0 + 1000);
    await setLastAccess(m, without(f.content, baseDigest), t0 + 2000);
    const own = bytesOf(e, without(e.content, baseDigest));

    await evictorOf(m, (await cacheBytes(m)) - own / 2).run();

    const eImage = [e.manifest, ...e.layers];
    assert.deepEqual(await storedOf(m, eImage), [baseDigest], "e went, but not the layer f needs");
    assert.deepEqual(await storedOf(m, f.content), f.content, "f is intact");
    assert.ok(await m.meta.getTag({ registry: "docker.io", repo: f.repo }, "latest"));
  });

  it("keeps pinned images and content being served, and goes on past them", async () => {
    const m = await mirror();
    const pinned = image(40_000);
    const served = image(16 << 20);
    const others = [image(40_000), image(40_000)];
    for (const img of [pinned, served, ...others]) await pull(m, img);
    const t0 = Date.now() - HOUR;
    await setLastAccess(m, pinned.content, t0);
    await setLastAccess(m, served.content, t0 + 1000);
    for (const [i, img] of others.entries()) await setLastAccess(m, img.content, t0 + 2000 + i);
    await m.lifecycle.pin(`${pinned.repo}:latest`);
    // A client reading the big layer slowly: it is in use until the body is read.
    const layer = served.layers[0] as Digest;
    const reading = await request(`${m.url}/v2/${served.repo}/blobs/${layer}`);
    await eventually("the layer is in use", async () => (await m.lifecycle.status()).inUse === 1);

    const result = await evictorOf(m, 1).run();

    assert.deepEqual(await storedOf(m, pinned.content), pinned.content, "the pinned image is intact");
    assert.ok(await isStored(m, layer), "the layer being served stays");
    assert.deepEqual(await storedOf(m, [served.manifest, served.config]), [], "the rest of its image goes");
    for (const img of others) assert.deepEqual(await storedOf(m, img.content), [], `${img.repo} evicted`);
    assert.ok(result.skipped >= 2, `skipped ${result.skipped}: the pinned image and the layer in use`);

    const body = Buffer.from(await reading.body.arrayBuffer());
    assert.equal(sha256Digest(body), layer, "the client got the whole layer");
    await eventually("the layer is released", async () => (await m.lifecycle.status()).inUse === 0);
    await evictorOf(m, 1).run();
    assert.equal(await isStored(m, layer), false, "once served, it goes too");
    assert.deepEqual(await storedOf(m, pinned.content), pinned.content, "pinned still");
  });
});

describe("the mirror's own evictor (cache.maxSize)", () => {
  it("keeps the cache under the cap as blobs are committed, and fetches evicted content again", async () => {
    const cap = 300_000;
    const m = await mirror({ maxSize: cap });
    const images = Array.from({ length: 24 }, () => image(60_000));
    // Four clients at once, twice over: blobs are committed while runs are under way.
    for (let round = 0; round < 2; round++) {
      let next = 0;
      const client = async () => {
        for (let i = next++; i < images.length; i = next++) await pull(m, images[i] as FakeImage);
      };
      await Promise.all([client(), client(), client(), client()]);
    }
    // Commits start runs on their own: no explicit run here.
    await eventually("the cache is under its cap", async () => (await cacheBytes(m)) <= cap);
    assert.ok((await m.metrics.value("hubmirror_cache_removals_total", { reason: "cap" })) > 0);

    const first = images[0] as FakeImage;
    const layer = first.layers[0] as Digest;
    assert.equal(await isStored(m, layer), false, "the first image was evicted");
    const fetches = () => hub.count("GET", new RegExp(`/cdn/${layer}`));
    const fetched = fetches();
    await pull(m, first);
    assert.equal(fetches(), fetched + 1, "fetched from upstream again");
    assert.ok(await isStored(m, layer), "and cached again");

    const answer = await adminPost<EvictionResult>(m, "/admin/evict");
    assert.equal(answer.maxSize, cap);
    assert.ok(answer.cacheBytes <= cap);
    assert.equal(answer.cacheBytes, await cacheBytes(m));
    assert.equal(await m.metrics.value("hubmirror_cache_max_bytes"), cap);
  });

  it("streams a blob larger than the cap to its client without keeping it", async () => {
    const cap = 100_000;
    const m = await mirror({ maxSize: cap });
    const content = randomBytes(400_000);
    const digest = hub.addBlob(content) as Digest;
    for (let i = 1; i <= 2; i++) {
      const got = await m.text(`/v2/acme/big/blobs/${digest}`);
      assert.equal(got.status, 200);
      assert.ok(got.body.equals(content), "served whole");
      await m.settled();
      assert.equal(await isStored(m, digest), false, "not kept");
      assert.equal(hub.count("GET", new RegExp(`/cdn/${digest}`)), i, "each request streams from upstream");
    }
    assert.equal(await m.metrics.value("hubmirror_blob_fills_total", { outcome: "streamed" }), 2);
  });

  it("keeps the disk's free space above cache.minFreeDisk", async () => {
    const probe = await mirror();
    const fs = await statfs(probe.data);
    // A mark above the disk's free space: everything that can go, goes.
    const m = await mirror({ minFreeDisk: fs.bavail * fs.bsize + (1 << 30) });
    const images = [image(20_000), image(20_000)];
    for (const img of images) await pull(m, img);
    const result = await adminPost<EvictionResult>(m, "/admin/evict");
    for (const img of images) assert.deepEqual(await storedOf(m, img.content), [], `${img.repo} evicted`);
    assert.equal(result.cacheBytes, 0);
    assert.ok(result.diskFree !== null && result.diskFree > 0, "the disk's free space is reported");
    assert.ok((await m.metrics.value("hubmirror_cache_removals_total", { reason: "disk" })) > 0);
  });
});

function without(list: Digest[], d: Digest): Digest[] {
  return list.filter((x) => x !== d);
}

function layerBytes(img: FakeImage): number {
  return bytesOf(img, img.layers);
}
