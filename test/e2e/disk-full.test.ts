// A full disk with real parts: hubmirror (a child process) keeps its whole data directory (metadata database, spool,
// blob store) on a small tmpfs, in front of the Docker-Hub-like upstream (Distribution behind a token server), with
// a fault proxy between them that holds a blob body at an exact byte while the test fills the disk. A local write
// error is not an upstream failure: every client that is reading gets the whole, correct body from the one
// upstream GET (no Range retries), nothing is committed, no temp file is left, and the error is logged and counted.
// With the disk still full the free-space check refuses caching before a byte is written (and manifests are served
// uncached); once space is freed, fills commit again.
//   bash test/netns-run.sh node --import tsx --test test/e2e/disk-full.test.ts
import assert from "node:assert/strict";
import { open, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { assertLoopbackOnly } from "../clients/netns.js";
import { exec, removeTree, tempDir } from "../clients/proc.js";
import { Skopeo } from "../clients/skopeo.js";
import { MiB } from "../fixtures/blob-store.js";
import { type FaultProxy, startFaultProxy } from "../fixtures/fault-proxy.js";
import { biggestBlob, makeBlobImage, type TestImage } from "../fixtures/images.js";
import { eventually, streamDigest } from "../helpers.js";
import { MirrorProcess } from "../mirror-process.js";
import { type Hub, startHub, verifiedStore } from "./stack.js";

/** The tmpfs holds the whole data directory; the layer fits in it until the filler takes the rest. */
const DISK = "32m";
const LAYER = 20 * MiB;
/** Where the upstream body is held while the disk is filled. */
const HOLD_AT = 5 * MiB;

let hub: Hub;
let big: TestImage;
let proxy: FaultProxy;
let dir: string;
let mounted = false;
let mirror: MirrorProcess;
let skopeo: Skopeo;

before(
  async () => {
    // Mounts only in the private mount namespace of test/netns-run.sh (which is also what makes this loopback-only).
    assertLoopbackOnly();
    hub = await startHub();
    big = await makeBlobImage(LAYER);
    await hub.push(big);
    proxy = await startFaultProxy(hub.registry.url);
    dir = await tempDir("disk-full");
    await exec("mount", ["-t", "tmpfs", "-o", `size=${DISK}`, "tmpfs", dir]);
    mounted = true;
    mirror = await MirrorProcess.start({ upstream: proxy.url, data: dir });
    skopeo = await Skopeo.create({ mirrorUrl: mirror.url });
  },
  { timeout: 90_000 },
);

after(async () => {
  await skopeo?.stop();
  await mirror?.stop();
  if (mounted) await exec("umount", [dir]);
  if (dir) await removeTree(dir);
  await proxy?.stop();
  await hub?.stop();
});

const layer = () => biggestBlob(big);
const configBlob = () =>
  big.blobs.find((b) => b.digest !== layer().digest) as { digest: string; size: number };
const filler = () => join(dir, "filler");
const blobUrl = (digest: string) => `${mirror.url}/v2/${big.repo}/blobs/${digest}`;

/** Writes zeros into the filler file until the disk has no byte left. */
async function fillDisk(): Promise<void> {
  const f = await open(filler(), "a");
  try {
    for (const size of [MiB, 4096]) {
      const zeros = Buffer.alloc(size);
      try {
        for (;;) await f.write(zeros);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
      }
    }
  } finally {
    await f.close();
  }
}

/** GETs a blob through the mirror and hashes the body as it streams (throws if the mirror cuts it). */
async function getBlob(digest: string): Promise<{ digest: string; size: number }> {
  const res = await fetch(blobUrl(digest));
  assert.equal(res.status, 200);
  return streamDigest(res.body as AsyncIterable<Buffer>);
}

/** Upstream GETs of the blob that got an answer with bytes (the 401s of the token dance left out). */
async function upstreamGets(digest: string): Promise<number[]> {
  const log = await hub.registry.accessLog();
  return log
    .filter((r) => r.method === "GET" && r.path.endsWith(`/blobs/${digest}`) && r.status < 400)
    .map((r) => r.status);
}

/** Whether the mirror's index names the digest (read beside the running mirror, as an operator would). */
function indexed(digest: string): boolean {
  const db = new Database(join(dir, "hubmirror.db"), { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT 1 FROM blobs WHERE digest = ?").get(digest) !== undefined;
  } finally {
    db.close();
  }
}

/** No upload temp file and no spool file is left on the disk. */
async function assertNoTempFiles(): Promise<void> {
  for (const sub of [join("storage", "_uploads"), "spool"]) {
    assert.deepEqual(await readdir(join(dir, sub)), [], `temp files left in ${sub}`);
  }
}

describe("a full disk", { timeout: 120_000 }, () => {
  test("filled mid-download: three clients get the whole layer from one upstream GET, nothing is kept", async () => {
    const { digest, size } = layer();
    // The config blob is cached first, so that only the layer's download meets the full disk.
    const config = configBlob();
    assert.deepEqual(await getBlob(config.digest), { digest: config.digest, size: config.size });
    await mirror.settled();
    await hub.registry.clearAccessLog();
    const joinedBefore = await mirror.metric("hubmirror_cache_requests_total", {
      kind: "blob",
      result: "joined",
    });
    let release!: () => void;
    const released = new Promise<void>((ok) => {
      release = ok;
    });
    // Every GET of the layer: the first one upstream answers is a 401 (the token dance), never held.
    const then = () => released;
    proxy.setFault({
      path: new RegExp(`/blobs/${digest}$`),
      method: "GET",
      fault: { holdAfter: HOLD_AT, then },
    });
    try {
      // Two plain GETs and a skopeo copy of the image, all on the one download, held at 5 MiB.
      const plain = [getBlob(digest), getBlob(digest)];
      const copied = skopeo.copyViaMirror(`docker.io/${big.repo}:latest`, join(skopeo.dir, "copy"));
      await eventually(
        "two clients joined the download",
        async () => {
          const joined = await mirror.metric("hubmirror_cache_requests_total", {
            kind: "blob",
            result: "joined",
          });
          return joined - joinedBefore >= 2;
        },
        30_000,
      );
      // The temp file holds what came so far; then the disk is filled to its last byte.
      await eventually("the mirror wrote what it got", async () => {
        const temps = await readdir(join(dir, "storage", "_uploads"));
        const sizes = await Promise.all(
          temps.map(async (t) => (await stat(join(dir, "storage", "_uploads", t))).size),
        );
        return sizes.includes(HOLD_AT);
      });
      await sleep(300);
      await fillDisk();
      release();
      for (const got of await Promise.all(plain))
        assert.deepEqual(got, { digest, size }, "a plain GET got the layer");
      await copied;
    } finally {
      proxy.setFault(null);
      release();
    }
    const copiedLayer = join(skopeo.dir, "copy", digest.slice("sha256:".length));
    assert.equal(
      (await stat(copiedLayer)).size,
      size,
      "skopeo wrote the whole layer (and checked its digest)",
    );
    await mirror.settled();

    assert.deepEqual(await upstreamGets(digest), [200], "one upstream GET, no Range retry");
    assert.equal(await mirror.metric("hubmirror_blob_resumes_total"), 0);
    assert.equal(await mirror.metric("hubmirror_blob_fills_total", { outcome: "degraded" }), 1);
    assert.ok(
      (await mirror.metric("hubmirror_local_write_errors_total", { what: "blob", kind: "no_space" })) >= 1,
    );
    assert.match(
      mirror.log(),
      /"level":50.*local write failed: serving without caching/,
      "an error-level line",
    );
    assert.ok(!(await verifiedStore(dir)).has(digest), "the layer is not in the store");
    assert.equal(indexed(digest), false, "nor in the index");
    await assertNoTempFiles();
  });

  test("still full: caching is refused up front, manifests and blobs are served all the same", async () => {
    const { digest, size } = layer();
    // The failed fill's temp file is gone, and its room with it: filled again.
    await fillDisk();
    const hits = await mirror.metric("hubmirror_cache_requests_total", { kind: "blob", result: "hit" });
    // The config blob, cached before the disk filled, is served as it is.
    const config = configBlob();
    assert.deepEqual(await getBlob(config.digest), { digest: config.digest, size: config.size });
    assert.equal(
      await mirror.metric("hubmirror_cache_requests_total", { kind: "blob", result: "hit" }),
      hits + 1,
    );
    // The layer, and an image the mirror has never seen (manifests and blobs alike), with no byte of space.
    assert.deepEqual(await getBlob(digest), { digest, size });
    const oci = hub.catalogue.oci;
    await skopeo.copyViaMirror(`docker.io/${oci.repo}:latest`, join(skopeo.dir, "oci"));
    await mirror.settled();
    assert.deepEqual(await upstreamGets(digest), [200, 200], "one more GET for the one more request");
    assert.ok((await mirror.metric("hubmirror_local_write_errors_total", { what: "manifest" })) >= 1);
    assert.ok((await mirror.metric("hubmirror_blob_fills_total", { outcome: "degraded" })) >= 2);
    assert.equal(await mirror.metric("hubmirror_blob_resumes_total"), 0);
    const stored = await verifiedStore(dir);
    for (const d of [digest, oci.manifest.digest, ...oci.blobs.map((b) => b.digest)]) {
      assert.ok(!stored.has(d), `${d} is not stored`);
    }
    await assertNoTempFiles();
  });

  test("space freed: the next request fills and commits, the one after is a hit", async () => {
    const { digest, size } = layer();
    await rm(filler());
    assert.deepEqual(await getBlob(digest), { digest, size });
    await mirror.settled();
    assert.ok((await verifiedStore(dir)).has(digest), "committed to the store");
    assert.equal(indexed(digest), true, "and indexed");
    assert.deepEqual(await getBlob(digest), { digest, size });
    assert.deepEqual(await upstreamGets(digest), [200, 200, 200], "the warm request stayed local");
    assert.ok((await mirror.metric("hubmirror_blob_fills_total", { outcome: "committed" })) >= 1);
    await assertNoTempFiles();
  });
});
