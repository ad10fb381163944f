// The size cap with real parts: the Docker-Hub-like upstream (Distribution behind a token server), hubmirror as a
// child process with `cache.maxSize` far below the catalogue's size, and skopeo copying every manifest and blob of
// several images at once, in a loop. No copy may fail or get a wrong byte, the cache ends under its cap, a pinned
// image survives, evicted content comes back from upstream, and a blob larger than the cap streams without being
// kept. Then kill -9 during eviction: the index and the store stay consistent.
//   bash test/netns-run.sh node --import tsx --test test/e2e/eviction.test.ts
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { EvictionResult } from "../../src/lifecycle/evictor.js";
import { removeTree } from "../clients/proc.js";
import { Skopeo } from "../clients/skopeo.js";
import { MiB } from "../fixtures/blob-store.js";
import { biggestBlob, makeBlobImage, type TestImage } from "../fixtures/images.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
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
