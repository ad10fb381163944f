// `POST /admin/verify` on an in-process mirror (filesystem storage) in front of FakeHub: a byte flipped on disk is
// found, left alone without repair, and with repair fetched again through the proxy stores, once.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { request } from "undici";
import type { Digest } from "../../src/reference/reference.js";
import { blobPath } from "../../src/store/layout.js";
import { useHubAndMirror } from "../fakes/mirror.js";
import { errorCode, sha256Digest } from "../helpers.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

describe("verify through the admin API", () => {
  const t = useHubAndMirror();
  const file = (digest: string) => join(t.mirror.data, "storage", blobPath(digest as Digest));

  async function verify(body: unknown): Promise<{ status: number; events: Record<string, unknown>[] }> {
    const res = await request(`${t.mirror.url}/admin/verify`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { status: res.statusCode, events: [JSON.parse(text)] };
    assert.equal(res.headers["content-type"], "application/x-ndjson");
    return {
      status: 200,
      events: text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    };
  }

  /** An image in the hub, pulled through the mirror: its manifest digest and layer. */
  async function pulled(repo: string) {
    const layer = randomBytes(3 << 20);
    const layerDigest = t.hub.addBlob(layer);
    const config = Buffer.from("{}");
    const configDigest = t.hub.addBlob(config);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: 2 },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length },
      ],
    };
    const digest = t.hub.addManifest(repo, manifest, OCI_MANIFEST, "latest");
    assert.equal((await t.mirror.text(`/v2/${repo}/manifests/latest`)).status, 200);
    for (const d of [configDigest, layerDigest])
      assert.equal((await t.mirror.text(`/v2/${repo}/blobs/${d}`)).status, 200);
    await t.mirror.settled();
    return { digest, layer, layerDigest };
  }

  it("finds a flipped byte, and with repair fetches that blob again once", async () => {
    const { layer, layerDigest } = await pulled("library/flip");
    const bad = Buffer.from(layer);
    bad[12345] = (bad[12345] as number) ^ 1;
    await writeFile(file(layerDigest), bad);
    const cdnGets = () => t.hub.count("GET", new RegExp(`/cdn/${layerDigest}`));
    const before = cdnGets();

    const found = await verify({});
    assert.equal(found.status, 200);
    const [object] = found.events.filter((e) => e.type === "object");
    assert.deepEqual(object, {
      type: "object",
      digest: layerDigest,
      kind: "blob",
      size: layer.length,
      result: "corrupt",
      found: { digest: sha256Digest(bad), size: layer.length },
    });
    const done = found.events.at(-1);
    assert.equal(done?.type, "done");
    assert.deepEqual(done?.corrupt, [layerDigest]);
    assert.deepEqual(done?.unrepaired, [layerDigest]);
    assert.ok((await readFile(file(layerDigest))).equals(bad), "without repair the bytes stay");
    assert.equal(cdnGets(), before);

    const repaired = await verify({ repair: true });
    assert.deepEqual(repaired.events.at(-1)?.repaired, [layerDigest]);
    assert.equal(repaired.events.find((e) => e.type === "object")?.from, "docker.io/library/flip");
    assert.equal(cdnGets(), before + 1, "one upstream download");
    assert.ok((await readFile(file(layerDigest))).equals(layer), "the file holds the right bytes again");
    assert.ok((await t.mirror.text(`/v2/library/flip/blobs/${layerDigest}`)).body.equals(layer));
    assert.equal(cdnGets(), before + 1, "and is served from the cache");

    const clean = (await verify({})).events.at(-1);
    assert.deepEqual([clean?.corrupt, clean?.missing], [[], []]);
    assert.equal(await t.mirror.metrics.value("hubmirror_verify_objects_total", { result: "repaired" }), 1);
  });

  it("repairs a corrupt manifest and a missing file; the tag is fetched again on the next pull", async () => {
    const { digest, layerDigest } = await pulled("library/mani");
    const body = await readFile(file(digest));
    await writeFile(file(digest), Buffer.from(body.toString().replace("schemaVersion", "schemaVersiom")));
    await rm(file(layerDigest));
    const manifestGets = () => t.hub.count("GET", /\/v2\/library\/mani\/manifests\//);
    const before = manifestGets();

    const { events } = await verify({ repair: true });
    const bad = events.filter((e) => e.type === "object");
    assert.deepEqual(
      bad.map((e) => [e.digest, e.result, e.repair]).sort(),
      [
        [digest, "corrupt", "repaired"],
        [layerDigest, "missing", "repaired"],
      ].sort(),
    );
    assert.equal(manifestGets(), before + 1, "the manifest fetched again by digest");
    assert.ok((await readFile(file(digest))).equals(body));

    const tag = await t.mirror.text("/v2/library/mani/manifests/latest");
    assert.equal(tag.status, 200);
    assert.ok(tag.body.equals(body));
    assert.equal(manifestGets(), before + 2, "the tag is resolved upstream again");
  });

  it("refuses a repair flag that is not a boolean, naming it", async () => {
    const { status, events } = await verify({ repair: "yes" });
    assert.equal(status, 400);
    assert.equal(errorCode(Buffer.from(JSON.stringify(events[0]))), "REQUEST_INVALID");
    assert.match(JSON.stringify(events[0]), /repair/);
  });
});
