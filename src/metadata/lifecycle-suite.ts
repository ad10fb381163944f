import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Digest } from "../reference/reference.js";
import type { MetadataStore } from "./store.js";

const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
const INDEX = d("1");
const IMAGE = d("2");
const CONFIG = d("3");
const LAYER = d("4");
const BASE = d("5");
const LOOSE = d("6");
/** Uses recorded later than the rows' creation (an older use never moves last access back). */
const T = Date.now() + 3_600_000;
const HUB = { registry: "docker.io", repo: "library/alpine" };
const OTHER = { registry: "docker.io", repo: "library/busybox" };

/** Stores an index → image → (config, layer, base) and a loose blob, accessed in that order of age. */
async function seed(s: MetadataStore): Promise<void> {
  const sizes: [Digest, number, "blob" | "manifest"][] = [
    [INDEX, 10, "manifest"],
    [IMAGE, 20, "manifest"],
    [CONFIG, 30, "blob"],
    [LAYER, 40, "blob"],
    [BASE, 50, "blob"],
    [LOOSE, 60, "blob"],
  ];
  for (const [digest, size, kind] of sizes) await s.putBlob(digest, size, kind);
  await s.putManifestRefs(INDEX, [IMAGE]);
  await s.putManifestRefs(IMAGE, [CONFIG, LAYER, BASE]);
  await s.link(HUB, [INDEX, IMAGE, CONFIG, LAYER, BASE]);
  await s.link(OTHER, [BASE]);
  await s.putTag(HUB, "latest", INDEX, 1000);
  for (const [i, [digest]] of sizes.entries()) s.recordAccess(digest, T + i);
  await s.flush();
}

/** The lifecycle queries every metadata store must answer alike; run by each store's test file. */
export function runLifecycleSuite(name: string, create: () => Promise<MetadataStore>): void {
  describe(`metadata lifecycle suite: ${name}`, () => {
    it("sums usage by kind and pages content least recently used first", async () => {
      const s = await create();
      await seed(s);
      assert.deepEqual(await s.cacheUsage(), {
        blobs: { count: 4, bytes: 180 },
        manifests: { count: 2, bytes: 30 },
        oldestAccess: T,
      });
      s.recordAccess(INDEX, T + 100);
      await s.flush();
      const first = await s.leastRecentlyUsed(2);
      assert.deepEqual(
        first.map((r) => r.digest),
        [IMAGE, CONFIG],
      );
      const last = first[1] as { lastAccess: number; digest: Digest };
      const rest = await s.leastRecentlyUsed(10, last);
      assert.deepEqual(
        rest.map((r) => r.digest),
        [LAYER, BASE, LOOSE, INDEX],
      );
      assert.deepEqual(
        (await s.listContent(2, CONFIG)).map((r) => r.digest),
        [LAYER, BASE],
      );
      await s.close();
    });

    it("knows manifests' references both ways, only while the parent is stored", async () => {
      const s = await create();
      await seed(s);
      assert.deepEqual((await s.manifestChildren(IMAGE)).sort(), [CONFIG, LAYER, BASE].sort());
      assert.deepEqual(await s.manifestParents(BASE), [IMAGE]);
      assert.deepEqual(await s.manifestParents(IMAGE), [INDEX]);
      assert.deepEqual(await s.manifestsWithoutRefs(10), []);
      assert.deepEqual(await s.unreferencedBlobs(Number.MAX_SAFE_INTEGER), [
        (await s.getBlob(LOOSE)) as never,
      ]);
      assert.deepEqual(await s.unreferencedBlobs(0), [], "recently used blobs are spared");
      await s.deleteBlob(IMAGE);
      await s.deleteManifest(IMAGE);
      assert.deepEqual(await s.manifestParents(BASE), []);
      assert.deepEqual(
        (await s.unreferencedBlobs(Number.MAX_SAFE_INTEGER)).map((r) => r.digest).sort(),
        [CONFIG, LAYER, BASE, LOOSE].sort(),
      );
      await s.close();
    });

    it("records tag pulls, finds tags by manifest and stale rows", async () => {
      const s = await create();
      await seed(s);
      assert.deepEqual(await s.tagsOf(INDEX), [{ ...HUB, tag: "latest", digest: INDEX, lastPull: 1000 }]);
      assert.equal((await s.tagsPulledBefore(1001)).length, 1);
      s.recordTagPull(HUB, "latest", 5000);
      await s.flush();
      assert.deepEqual(await s.tagsPulledBefore(1001), []);
      assert.equal((await s.tagRefs(HUB))[0]?.lastPull, 5000);
      await s.putManifest({ digest: IMAGE, mediaType: "m", size: 20 });
      await s.deleteBlob(INDEX);
      await s.deleteBlob(IMAGE);
      const stale = await s.staleRows();
      assert.deepEqual(
        stale.tags.map((t) => t.tag),
        ["latest"],
      );
      assert.deepEqual(stale.manifests.sort(), [INDEX, IMAGE].sort());
      await s.deleteTag(HUB, "latest");
      assert.deepEqual(await s.tagRefs(HUB), []);
      await s.close();
    });

    it("drops a repository's tags and links, and finds content no repository links", async () => {
      const s = await create();
      await seed(s);
      assert.deepEqual(
        (await s.unlinkedContent()).map((r) => r.digest),
        [LOOSE],
      );
      assert.deepEqual(await s.linkedRepositories(BASE), [HUB, OTHER]);
      const linked = await s.deleteRepository(HUB);
      assert.deepEqual(linked.sort(), [INDEX, IMAGE, CONFIG, LAYER, BASE].sort());
      assert.deepEqual(await s.tagRefs(HUB), []);
      assert.deepEqual(await s.listRepositories("docker.io", 10, undefined), ["library/busybox"]);
      assert.deepEqual(
        (await s.unlinkedContent()).map((r) => r.digest),
        [INDEX, IMAGE, CONFIG, LAYER, LOOSE],
        "the shared base layer is still linked to busybox",
      );
      await s.close();
    });

    it("keeps pins", async () => {
      const s = await create();
      const pin = { ...HUB, reference: "3.20" };
      await s.addPin(pin);
      await s.addPin(pin);
      assert.deepEqual(await s.listPins(), [pin]);
      assert.equal(await s.removePin(pin), true);
      assert.equal(await s.removePin(pin), false);
      assert.deepEqual(await s.listPins(), []);
      await s.close();
    });
  });
}
