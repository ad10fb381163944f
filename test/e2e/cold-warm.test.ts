// Cold then warm, counted on the upstream's access log: every client pulls every image through hubmirror twice.
// Cold, hubmirror fetches each blob and each manifest from upstream exactly once, whichever client asks first; warm,
// within the tag TTL (default 5 min), the second pull of each image sends nothing upstream at all: no blob GET, no
// manifest GET, not even a revalidating HEAD.
//   bash test/netns-run.sh node --import tsx --test test/e2e/cold-warm.test.ts
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AccessRecord } from "../fixtures/upstream-registry.js";
import { MODES, pullThrough } from "./pull-modes.js";
import { useStack } from "./stack.js";

const CACHE = "hubmirror_cache_requests_total";
const BLOB_PATH = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;
const MANIFEST_PATH = /^\/v2\/.+\/manifests\/[^/]+$/;

const stack = useStack();

/** Every client pulls every image (each from an empty client store). */
async function pullEverythingWithEveryClient(): Promise<void> {
  for (const name of MODES)
    for (const img of stack.hub.images) await pullThrough(stack.modes[name], img, stack.mirror.process);
}

const summary = (records: AccessRecord[]) =>
  records.map((r) => `${r.method} ${r.path} ${r.status}`).join("\n");

/** Values of `items` that occur more than once. */
const repeated = (items: string[]) => items.filter((item, i) => items.indexOf(item) !== i);

/** The cache counters of one kind, by result. */
async function cacheResults(kind: "blob" | "manifest") {
  const m = stack.mirror.process;
  return {
    hit: await m.metric(CACHE, { kind, result: "hit" }),
    miss: await m.metric(CACHE, { kind, result: "miss" }),
    stale: await m.metric(CACHE, { kind, result: "stale" }),
  };
}

describe("cold then warm, with every client", { timeout: 120_000 }, () => {
  test("cold: each blob and each manifest is fetched from upstream once, whichever client asks", async () => {
    await pullEverythingWithEveryClient();
    const log = await stack.hub.registry.accessLog();
    const ok = log.filter((r) => r.method === "GET" && r.status === 200);

    const blobGets = ok.flatMap((r) => BLOB_PATH.exec(r.path)?.[1] ?? []);
    const allBlobs = new Set(stack.hub.images.flatMap((img) => img.blobs.map((b) => b.digest)));
    assert.deepEqual(repeated(blobGets), [], `blobs fetched twice:\n${summary(log)}`);
    assert.deepEqual(new Set(blobGets), allBlobs);

    // A tag's GET brings the index or manifest it points at; only an index's children are fetched by digest.
    const manifestGets = ok.filter((r) => MANIFEST_PATH.test(r.path)).map((r) => r.path);
    assert.deepEqual(repeated(manifestGets), [], `manifests fetched twice:\n${summary(log)}`);
    const manifests = stack.hub.images.reduce((n, img) => n + img.manifests.length, 0);
    assert.equal(manifestGets.length, manifests, summary(log));
  });

  test("warm: a second pull of each image, within the tag TTL, sends nothing upstream", async () => {
    await stack.hub.registry.clearAccessLog();
    const blobs = await cacheResults("blob");
    const manifests = await cacheResults("manifest");

    await pullEverythingWithEveryClient();

    const log = await stack.hub.registry.accessLog();
    assert.equal(
      log.filter((r) => BLOB_PATH.test(r.path)).length,
      0,
      `upstream blob requests:\n${summary(log)}`,
    );
    const manifestGets = log.filter((r) => r.method === "GET" && MANIFEST_PATH.test(r.path));
    assert.equal(manifestGets.length, 0, `upstream manifest GETs:\n${summary(log)}`);
    assert.deepEqual(log, [], `no upstream request at all (no revalidating HEAD either):\n${summary(log)}`);

    const blobsAfter = await cacheResults("blob");
    const manifestsAfter = await cacheResults("manifest");
    assert.equal(blobsAfter.miss, blobs.miss, "no blob cache miss");
    assert.equal(manifestsAfter.miss, manifests.miss, "no manifest cache miss");
    assert.equal(manifestsAfter.stale, manifests.stale, "tags within the TTL are fresh, not stale");
    const pulls = MODES.length * stack.hub.images.length;
    assert.ok(blobsAfter.hit - blobs.hit >= pulls, "every pull got blobs from the cache");
    assert.ok(manifestsAfter.hit - manifests.hit >= pulls, "every pull got its tag from the cache");
  });
});
