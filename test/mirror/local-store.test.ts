// The local blob store under the proxy: repository links (a cached digest is served only under names upstream has
// it in), content that vanished from storage behind the index, and hits answered without a storage stat.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { Digest } from "../../src/reference/reference.js";
import { blobPath } from "../../src/store/layout.js";
import { type InProcessMirror, useHubAndMirror } from "../fakes/mirror.js";
import { errorCode } from "../helpers.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

describe("local blob store", () => {
  const t = useHubAndMirror();

  it("serves a cached blob only under repositories upstream has it in", async () => {
    const content = randomBytes(100_000);
    const digest = t.hub.addBlob(content, ["acme/private", "acme/fork"]);
    assert.ok((await t.mirror.text(`/v2/acme/private/blobs/${digest}`)).body.equals(content));
    await t.mirror.settled();

    const leak = await t.mirror.text(`/v2/library/public/blobs/${digest}`);
    assert.equal(leak.status, 404, "a cached blob is not served under a name that lacks it");
    assert.equal(errorCode(leak.body), "BLOB_UNKNOWN");
    const head = await t.mirror.get(`/v2/library/public/blobs/${digest}`, {}, "HEAD");
    await head.body.dump();
    assert.equal(head.statusCode, 404);

    const fork = await t.mirror.text(`/v2/acme/fork/blobs/${digest}`);
    assert.ok(fork.body.equals(content), "a name upstream confirms is served from the cache");
    assert.equal(t.hub.count("HEAD", new RegExp(`acme/fork/blobs/${digest}`)), 1, "confirmed with one HEAD");
    assert.equal(t.hub.count("GET", /\/cdn\//), 1, "and never downloaded again");
    await t.mirror.text(`/v2/acme/fork/blobs/${digest}`);
    assert.equal(t.hub.count("HEAD", new RegExp(`acme/fork/blobs/${digest}`)), 1, "the link is remembered");
  });

  it("keeps a download in progress from another repository's clients unless upstream has it there", async () => {
    const content = randomBytes(2 << 20);
    const digest = t.hub.addBlob(content, ["acme/slow"]);
    t.hub.throttle = 8 << 20;
    try {
      const owner = t.mirror.text(`/v2/acme/slow/blobs/${digest}`);
      await new Promise((ok) => setTimeout(ok, 50));
      const other = await t.mirror.text(`/v2/library/nosy/blobs/${digest}`);
      assert.equal(other.status, 404);
      assert.ok((await owner).body.equals(content));
    } finally {
      t.hub.throttle = 0;
    }
  });

  it("serves a manifest by digest only under repositories upstream has it in", async () => {
    const config = randomBytes(200);
    const configDigest = t.hub.addBlob(config, ["acme/app"]);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: 200 },
      layers: [],
    };
    const digest = t.hub.addManifest("acme/app", manifest, OCI_MANIFEST, "v1");
    assert.equal((await t.mirror.text(`/v2/acme/app/manifests/v1`)).status, 200);
    const leak = await t.mirror.text(`/v2/library/public/manifests/${digest}`);
    assert.equal(leak.status, 404);
    assert.equal(errorCode(leak.body), "MANIFEST_UNKNOWN");
    assert.equal((await t.mirror.text(`/v2/acme/app/manifests/${digest}`)).status, 200);

    // What the manifest references is linked with it: its config is served without asking upstream.
    assert.ok((await t.mirror.text(`/v2/acme/app/blobs/${configDigest}`)).body.equals(config));
    await t.mirror.settled();
    const heads = t.hub.count("HEAD", /acme\/app\/blobs/);
    assert.ok((await t.mirror.text(`/v2/acme/app/blobs/${configDigest}`)).body.equals(config));
    assert.equal(t.hub.count("HEAD", /acme\/app\/blobs/), heads);
  });

  it("fetches again, cleanly, a blob deleted from storage behind the index", async () => {
    const content = randomBytes(1 << 20);
    const digest = t.hub.addBlob(content);
    const path = `/v2/library/gone/blobs/${digest}`;
    assert.ok((await t.mirror.text(path)).body.equals(content));
    await t.mirror.settled();
    await rm(join(t.mirror.data, "storage", blobPath(digest as Digest)));
    const again = await t.mirror.text(path);
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(content));
    assert.equal(t.hub.count("GET", new RegExp(`/cdn/${digest}`)), 2);
    await t.mirror.settled();
    const hit = await t.mirror.text(path, { range: "bytes=10-19" });
    assert.ok(hit.body.equals(content.subarray(10, 20)), "and it is stored again");
    assert.equal(t.hub.count("GET", new RegExp(`/cdn/${digest}`)), 2);
  });

  it("answers a hit from the index, with no storage stat", async () => {
    const content = randomBytes(5000);
    const digest = t.hub.addBlob(content);
    const path = `/v2/library/indexed/blobs/${digest}`;
    const cold = await statCount(t.mirror);
    await t.mirror.text(path);
    await t.mirror.settled();
    const before = await statCount(t.mirror);
    assert.ok(before > cold, "a miss looks in storage once (the count works)");
    for (let i = 0; i < 3; i++) {
      assert.ok((await t.mirror.text(path)).body.equals(content));
      const head = await t.mirror.get(path, {}, "HEAD");
      await head.body.dump();
      assert.equal(head.statusCode, 200);
    }
    assert.equal(await statCount(t.mirror), before);
  });
});

/** How many storage stats the mirror made (the histogram's count). */
async function statCount(mirror: InProcessMirror): Promise<number> {
  const m = await mirror.metrics.registry.getSingleMetric("hubmirror_storage_operation_seconds")?.get();
  return (m?.values ?? [])
    .filter((v) => v.labels.op === "stat" && (v as { metricName?: string }).metricName?.endsWith("_count"))
    .reduce((a, v) => a + v.value, 0);
}
