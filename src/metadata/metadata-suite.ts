import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Digest } from "../reference/reference.js";
import type { MetadataStore } from "./store.js";

const D1 = `sha256:${"1".repeat(64)}` as Digest;
const D2 = `sha256:${"2".repeat(64)}` as Digest;
const HUB = { registry: "docker.io", repo: "library/alpine" };

/** The suite every metadata store must pass; each store's test file only supplies a factory. */
export function runMetadataSuite(name: string, create: () => Promise<MetadataStore>): void {
  describe(`metadata store suite: ${name}`, () => {
    it("stores, moves and revalidates tags", async () => {
      const s = await create();
      assert.equal(await s.getTag(HUB, "latest"), undefined);
      await s.putTag(HUB, "latest", D1, 1000);
      assert.deepEqual(await s.getTag(HUB, "latest"), { digest: D1, checkedAt: 1000 });
      await s.touchTag(HUB, "latest", 2000);
      assert.equal((await s.getTag(HUB, "latest"))?.checkedAt, 2000);
      await s.putTag(HUB, "latest", D2, 3000);
      assert.deepEqual(await s.getTag(HUB, "latest"), { digest: D2, checkedAt: 3000 });
      await s.putTag(HUB, "3.20", D1, 3000);
      assert.deepEqual(await s.listTags(HUB), ["3.20", "latest"]);
      assert.equal(await s.getTag({ registry: "ghcr.io", repo: "library/alpine" }, "latest"), undefined);
      await s.close();
    });

    it("stores manifests and lists the linked repositories, paged", async () => {
      const s = await create();
      await s.putManifest({ digest: D1, mediaType: "application/vnd.oci.image.index.v1+json", size: 10 });
      await s.link(HUB, [D1]);
      await s.link({ registry: "docker.io", repo: "library/busybox" }, [D2]);
      await s.link({ registry: "quay.io", repo: "x/y" }, [D2]);
      assert.deepEqual(await s.getManifest(D1), {
        digest: D1,
        mediaType: "application/vnd.oci.image.index.v1+json",
        size: 10,
      });
      assert.equal(await s.getManifest(D2), undefined);
      assert.deepEqual(await s.listRepositories("docker.io", 10, undefined), [
        "library/alpine",
        "library/busybox",
      ]);
      assert.deepEqual(await s.listRepositories("docker.io", 1, undefined), ["library/alpine"]);
      assert.deepEqual(await s.listRepositories("docker.io", 10, "library/alpine"), ["library/busybox"]);
      assert.deepEqual(await s.listRepositories("quay.io", 10, undefined), ["x/y"]);
      await s.close();
    });

    it("links content to repositories, per registry", async () => {
      const s = await create();
      await s.link(HUB, [D1, D2]);
      await s.link(HUB, [D1]);
      assert.equal(await s.isLinked(HUB, D1), true);
      assert.equal(await s.isLinked(HUB, D2), true);
      assert.equal(await s.isLinked({ registry: "docker.io", repo: "library/other" }, D1), false);
      assert.equal(await s.isLinked({ registry: "ghcr.io", repo: "library/alpine" }, D1), false);
      await s.close();
    });

    it("indexes stored content with its size, kind, location and use", async () => {
      const s = await create();
      assert.equal(await s.getBlob(D1), undefined);
      const before = Date.now();
      await s.putBlob(D1, 123, "blob");
      const rec = await s.getBlob(D1);
      assert.equal(rec?.size, 123);
      assert.equal(rec?.kind, "blob");
      assert.equal(rec?.location, "local");
      assert.equal(rec?.requests, 0);
      assert.ok((rec?.lastAccess ?? 0) >= before);
      s.recordAccess(D1, before + 60_000);
      s.recordAccess(D1, before + 30_000);
      assert.equal((await s.getBlob(D1))?.lastAccess, before + 60_000, "a buffered use counts at once");
      assert.equal((await s.getBlob(D1))?.requests, 2);
      await s.flush();
      assert.equal((await s.getBlob(D1))?.lastAccess, before + 60_000, "and after the flush");
      assert.equal((await s.getBlob(D1))?.requests, 2);
      s.recordAccess(D1, before);
      await s.flush();
      assert.equal((await s.getBlob(D1))?.lastAccess, before + 60_000, "an older use never moves it back");
      assert.equal((await s.getBlob(D1))?.requests, 3);
      await s.setLocation(D1, "offloaded");
      assert.equal((await s.getBlob(D1))?.location, "offloaded");
      await s.putBlob(D1, 123, "blob");
      assert.equal((await s.getBlob(D1))?.location, "local", "a new local copy is not offloaded yet");
      await s.deleteBlob(D1);
      assert.equal(await s.getBlob(D1), undefined);
      await s.deleteBlob(D1);
      await s.close();
    });

    it("queues blobs for offload by policy, retries failures later, and counts each state", async () => {
      const s = await create();
      const D3 = `sha256:${"3".repeat(64)}` as Digest;
      const M = `sha256:${"4".repeat(64)}` as Digest;
      await s.putBlob(D1, 1000, "blob");
      await s.putBlob(D2, 10, "blob");
      await s.putBlob(D3, 5000, "blob");
      await s.putBlob(M, 2000, "manifest");
      s.recordAccess(D3, Date.now());
      await s.flush();
      const all = { minSize: 0, minRequests: 0 };
      const digests = async (p: typeof all, now = Date.now()) =>
        (await s.offloadCandidates(p, now, 10)).map((c) => c.digest).sort();
      assert.deepEqual(await digests(all), [D1, D2, D3].sort(), "manifests are never offloaded");
      assert.deepEqual(await digests({ minSize: 100, minRequests: 0 }), [D1, D3].sort());
      assert.deepEqual(await digests({ minSize: 0, minRequests: 1 }), [D3]);
      assert.equal((await s.offloadCandidates(all, Date.now(), 1)).length, 1);

      await s.setLocation(D1, "offloaded");
      const attempts: number[] = [];
      const later = (n: number) => {
        attempts.push(n);
        return Date.now() + 60_000;
      };
      await s.offloadFailed(D2, "bucket unreachable", later);
      await s.offloadFailed(D2, "again", later);
      assert.deepEqual(attempts, [1, 2]);
      assert.deepEqual(await digests(all), [D3], "offloaded and waiting blobs are not candidates");
      assert.deepEqual(await digests(all, Date.now() + 120_000), [D2, D3].sort(), "until their retry time");
      assert.deepEqual(await s.offloadStatus(all), {
        synced: { count: 1, bytes: 1000 },
        pending: { count: 1, bytes: 5000 },
        failed: { count: 1, bytes: 10 },
      });
      await s.setLocation(D2, "offloaded");
      assert.deepEqual(
        (await s.offloadStatus(all)).failed,
        { count: 0, bytes: 0 },
        "a success clears a failure",
      );
      await s.close();
    });

    it("keeps tag lists, upstream status and counters", async () => {
      const s = await create();
      await s.putTagList(HUB, "n=2", Buffer.from('{"tags":["a"]}'));
      assert.equal((await s.getTagList(HUB, "n=2"))?.toString(), '{"tags":["a"]}');
      assert.equal(await s.getTagList(HUB, ""), undefined);
      await s.setUpstreamStatus({
        registry: "docker.io",
        rateLimitLimit: 100,
        rateLimitRemaining: 7,
        updatedAt: 5,
      });
      assert.deepEqual(await s.getUpstreamStatus("docker.io"), {
        registry: "docker.io",
        rateLimitLimit: 100,
        rateLimitRemaining: 7,
        updatedAt: 5,
      });
      s.addCounters({ pulls: 2 });
      s.addCounters({ pulls: 3, bytes: 10 });
      assert.deepEqual(await s.getCounters(), { pulls: 5, bytes: 10 });
      await s.flush();
      s.addCounters({ pulls: 1 });
      assert.deepEqual(await s.getCounters(), { pulls: 6, bytes: 10 });
      s.recordAccess(D1, 42);
      await s.close();
    });
  });
}
