// The size cap with real parts: the Docker-Hub-like upstream (Distribution behind a token server), hubmirror as a
// child process with `cache.maxSize` far below the catalogue's size, and skopeo copying every manifest and blob of
// several images at once, in a loop. No copy may fail or get a wrong byte, the cache ends under its cap, a pinned
// image survives, evicted content comes back from upstream, and a blob larger than the cap streams without being
// kept. Retention on a mirror of its own: what was not used within the limit goes, the rest stays. Then kill -9
// during eviction: the index and the store stay consistent, and every image pulls again.
//   bash test/netns-run.sh node --import tsx --test test/e2e/eviction.test.ts
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { stringify } from "yaml";
import type { ConfigInput } from "../../src/config/schema.js";
import type { EvictionResult } from "../../src/lifecycle/evictor.js";
import type { RetentionResult } from "../../src/lifecycle/retention.js";
import { removeTree, tempDir } from "../clients/proc.js";
import { Skopeo } from "../clients/skopeo.js";
import { MiB } from "../fixtures/blob-store.js";
import { biggestBlob, makeBlobImage, type TestImage } from "../fixtures/images.js";
import { MirrorProcess, startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { type Hub, startHub, verifiedStore } from "./stack.js";

const CAP = 4 * MiB;
/** A single-layer image whose layer is larger than the cap. */
const BIG = 5 * MiB;
const ROUNDS = 3;

let hub: Hub;
let big: TestImage;
let mirror: TempMirrorProcess;
let skopeo: Skopeo;
let copies = 0;

before(
  async () => {
    hub = await startHub();
    big = await makeBlobImage(BIG);
    await hub.push(big);
    mirror = await startMirrorProcess(hub.registry.url, { cache: { maxSize: CAP, evictionInterval: "1h" } });
    skopeo = await Skopeo.create({ mirrorUrl: mirror.process.url });
  },
  { timeout: 60_000 },
);

after(async () => {
  await skopeo?.stop();
  await mirror?.stop();
  await hub?.stop();
});

/** sha256 of a file, as `sha256:<hex>`. */
async function fileDigest(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/**
 * `skopeo copy --all` of the image through the mirror at `url` (every manifest and blob): the digest skopeo
 * reports must be upstream's, and every blob it wrote must hash to its name and be one of the image's blobs.
 */
async function copyAll(img: TestImage, url: string): Promise<void> {
  const dest = join(skopeo.dir, `copy-${copies++}`);
  const src = `docker://${new URL(url).host}/${img.repo}:latest`;
  try {
    await skopeo.skopeo([
      "copy",
      "--quiet",
      "--all",
      "--src-tls-verify=false",
      "--digestfile",
      `${dest}.digest`,
      src,
      `dir:${dest}`,
    ]);
    assert.equal(
      (await readFile(`${dest}.digest`, "utf8")).trim(),
      img.manifest.digest,
      `${img.repo}: digest`,
    );
    const blobs = (await readdir(dest)).filter((f) => /^[0-9a-f]{64}$/.test(f));
    for (const f of blobs)
      assert.equal(await fileDigest(join(dest, f)), `sha256:${f}`, `${img.repo}: blob ${f}`);
    assert.deepEqual(
      new Set(blobs.map((f) => `sha256:${f}`)),
      new Set(img.blobs.map((b) => b.digest)),
      `${img.repo}: every blob`,
    );
  } finally {
    await removeTree(dest);
  }
}

async function post<T>(url: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${path}: ${text}`);
  return JSON.parse(text) as T;
}

/** What the store holds on disk, every file verified against its digest: digests and total bytes. */
async function onDisk(data: string): Promise<{ digests: Set<string>; bytes: number }> {
  const digests = await verifiedStore(data);
  let bytes = 0;
  for (const d of digests) {
    const hex = d.slice("sha256:".length);
    bytes += (await stat(join(data, "storage", "blobs", "sha256", hex.slice(0, 2), hex, "data"))).size;
  }
  return { digests, bytes };
}

/** The layer of `img` that `other` does not share. */
function ownLayer(img: TestImage, other: TestImage): string {
  const own = img.blobs.filter((b) => b.size > MiB && !other.blobs.some((o) => o.digest === b.digest));
  assert.equal(own.length, 1, `${img.repo}: one layer of its own`);
  return (own[0] as { digest: string }).digest;
}

const blobGets = (digest: string) =>
  hub.registry.count({ method: "GET", path: new RegExp(`/blobs/${digest}$`), status: 200 });

describe("eviction under a tiny cap, with concurrent real pulls", { timeout: 180_000 }, () => {
  test("pins one image, then pulls the rest at once in a loop: every copy intact, the cap holds", async () => {
    const { catalogue } = hub;
    const pinned = catalogue["docker-v2"];
    const unpinned = catalogue.oci; // as old as the pinned one, and not pinned: the control
    const churn = [catalogue["docker-list"], catalogue["oci-index"], catalogue.busybox, big];
    await post(mirror.process.url, "/admin/pins", { image: `${pinned.repo}:latest` });
    for (const img of [pinned, unpinned]) await copyAll(img, mirror.process.url);

    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(churn.map((img) => copyAll(img, mirror.process.url)));
    }
    await mirror.process.settled();
    const removals = () => mirror.process.metric("hubmirror_cache_removals_total", { reason: "cap" });
    assert.ok((await removals()) > 0, "commits over the cap evicted while the copies ran");
    const result = await post<EvictionResult>(mirror.process.url, "/admin/evict");

    const stored = await onDisk(mirror.data);
    assert.ok(result.cacheBytes <= CAP, `cache ${result.cacheBytes} ≤ cap ${CAP}`);
    assert.ok(stored.bytes <= CAP, `bytes on disk ${stored.bytes} ≤ cap ${CAP}`);
    for (const b of pinned.blobs) assert.ok(stored.digests.has(b.digest), `pinned blob ${b.digest} kept`);
    assert.ok(stored.digests.has(pinned.manifest.digest), "the pinned manifest kept");
    assert.ok(
      !stored.digests.has(ownLayer(unpinned, pinned)),
      "the unpinned image of the same age was evicted",
    );

    const bigLayer = biggestBlob(big).digest;
    assert.ok(!stored.digests.has(bigLayer), "the blob larger than the cap is not kept");
    assert.equal(await blobGets(bigLayer), ROUNDS, "and streams from upstream each time");
    assert.equal(await mirror.process.metric("hubmirror_blob_fills_total", { outcome: "streamed" }), ROUNDS);
  });

  test("evicted content is fetched again on demand", async () => {
    const { oci, "docker-v2": pinned } = hub.catalogue;
    const layer = ownLayer(oci, pinned);
    assert.ok(!(await verifiedStore(mirror.data)).has(layer), "evicted by the test before");
    assert.equal(await blobGets(layer), 1);
    await copyAll(oci, mirror.process.url);
    assert.equal(await blobGets(layer), 2, "fetched from upstream again");
  });
});

describe("retention", { timeout: 60_000 }, () => {
  const LIMIT_MS = 3000;
  let m: TempMirrorProcess;
  before(async () => {
    const limit = `${LIMIT_MS}ms`;
    m = await startMirrorProcess(hub.registry.url, { cache: { retention: { tags: limit, content: limit } } });
  });
  after(() => m?.stop());

  test("drops the tags and content not used within the limit, and keeps the rest", async () => {
    const { "docker-v2": used, busybox: unused } = hub.catalogue;
    for (const img of [used, unused]) await copyAll(img, m.process.url);
    await m.process.settled();
    await sleep(LIMIT_MS + 500);
    await copyAll(used, m.process.url);

    const result = await post<RetentionResult>(m.process.url, "/admin/retention");

    const stored = await verifiedStore(m.data);
    for (const b of unused.blobs) assert.ok(!stored.has(b.digest), `${unused.repo}: ${b.digest} dropped`);
    assert.ok(!stored.has(unused.manifest.digest), `${unused.repo}: its manifest dropped`);
    for (const b of used.blobs) assert.ok(stored.has(b.digest), `${used.repo}: ${b.digest} kept`);
    assert.ok(stored.has(used.manifest.digest));
    assert.equal(result.tagsRemoved, 1, "the unused image's tag");
    assert.equal(result.removed, unused.blobs.length + unused.manifests.length);
    assert.equal(
      await m.process.metric("hubmirror_cache_removals_total", { reason: "retention", kind: "tag" }),
      1,
    );

    const layer = biggestBlob(unused).digest;
    const fetched = await blobGets(layer);
    await copyAll(unused, m.process.url);
    assert.equal(await blobGets(layer), fetched + 1, "fetched from upstream again");
  });
});

/** What the index of a stopped mirror names: stored content, and the manifests its tags point at. */
function indexOf(data: string): { content: Set<string>; tagged: Set<string> } {
  const db = new Database(join(data, "hubmirror.db"));
  try {
    const column = (sql: string) => new Set((db.prepare(sql).all() as { d: string }[]).map((r) => r.d));
    return {
      content: column("SELECT digest AS d FROM blobs"),
      tagged: column("SELECT digest AS d FROM tags"),
    };
  } finally {
    db.close();
  }
}

/** Starts the mirror and SIGKILLs it as soon as it logs a removal; resolves once it is gone. */
async function killAtFirstRemoval(proc: MirrorProcess): Promise<void> {
  // Killed before its startup line, the start fails: fine, the kill is what this is for.
  const starting = proc.start().catch(() => {});
  for (const end = Date.now() + 20_000; !proc.log().includes('"msg":"content removed"'); await sleep(1)) {
    if (Date.now() > end) throw new Error(`no removal logged:\n${proc.log()}`);
  }
  proc.kill();
  await starting;
  await proc.stopped();
}

describe("kill -9 during eviction", { timeout: 120_000 }, () => {
  let dir: string;
  let proc: MirrorProcess;
  const configure = (config: ConfigInput) => writeFile(join(dir, "hubmirror.yaml"), stringify(config));

  before(async () => {
    dir = await tempDir("evict-kill");
    await configure({});
    proc = new MirrorProcess({
      upstream: hub.registry.url,
      data: join(dir, "data"),
      config: join(dir, "hubmirror.yaml"),
    });
  });
  after(async () => {
    await proc?.stop();
    if (dir) await removeTree(dir);
  });

  test("leaves everything the index names on storage, and pulls still work", async () => {
    const images = [...hub.images, big];
    await proc.start();
    for (const img of images) await copyAll(img, proc.url);
    await proc.settled();
    await proc.stop();
    const full = indexOf(join(dir, "data")).content.size;

    // A cap of one byte: the run at start evicts everything, and is killed at its first removal.
    await configure({ cache: { maxSize: 1 }, log: { level: "debug" } });
    let interrupted = 0;
    for (let attempt = 0; attempt < 5 && interrupted < 2; attempt++) {
      await killAtFirstRemoval(proc);
      const data = join(dir, "data");
      const index = indexOf(data);
      const files = await verifiedStore(data);
      for (const d of index.content) assert.ok(files.has(d), `indexed ${d} is on storage`);
      for (const d of index.tagged) assert.ok(index.content.has(d), `tagged manifest ${d} is indexed`);
      if (index.content.size > 0 && index.content.size < full) interrupted++;
    }
    assert.ok(interrupted > 0, "a kill landed in the middle of an eviction");

    await configure({});
    await proc.start();
    for (const img of images) await copyAll(img, proc.url);
  });
});
