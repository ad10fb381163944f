// The usage statistics against known pulls by real clients (skopeo, ctr, dockerd, podman) through hubmirror in
// front of the real upstream: /api/stats must show exactly those pulls, the bytes the clients got, the bytes the
// upstream sent (its own access log), the hit ratio of a cold then a warm pull, each client's kind and the top
// images; and the same figures after a restart.
//   bash test/netns-run.sh node --import tsx --test test/e2e/stats.test.ts
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { StatsReport as Stats } from "../../src/stats/stats.js";
import type { ManifestFile, TestImage } from "../fixtures/images.js";
import { eventually } from "../helpers.js";
import type { PullMode } from "./pull-modes.js";
import { useStack } from "./stack.js";

const HOST_ARCH = process.arch === "x64" ? "amd64" : process.arch;
const UPSTREAM_CONTENT = /^\/v2\/.+\/(?:manifests|blobs)\/[^/]+$/;

const stack = useStack();

async function stats(range = "1h"): Promise<Stats> {
  const res = await fetch(`${stack.mirror.process.url}/api/stats?range=${range}`);
  assert.equal(res.status, 200);
  return (await res.json()) as Stats;
}

/**
 * The figures once they show `pulls` pulls and `served` bytes: a client may have read the last body before the
 * mirror saw that response close and recorded it. Then they must match at once.
 */
async function statsOf(pulls: number, served: number): Promise<Stats> {
  let s = await stats();
  await eventually("the pulls recorded", async () => {
    s = await stats();
    return s.totals.pulls === pulls && s.totals.servedBytes === served;
  }).catch(() => {});
  assert.deepEqual([s.totals.pulls, s.totals.servedBytes], [pulls, served]);
  return s;
}

/** The image manifest a client pulls for this host: the tag's own, or the index's child. */
function hostManifest(img: TestImage): ManifestFile {
  const m = img.manifests.find((m) => m.platform?.architecture === HOST_ARCH) ?? img.manifest;
  return m;
}

/** Digests and sizes of what one pull of `img` for this host transfers: the tag's manifest, the child, its blobs. */
function pulled(img: TestImage): Map<string, number> {
  const child = hostManifest(img);
  const { config, layers } = JSON.parse(child.body.toString()) as {
    config: { digest: string; size: number };
    layers: { digest: string; size: number }[];
  };
  return new Map([
    [img.manifest.digest, img.manifest.body.length],
    [child.digest, child.body.length],
    ...[config, ...layers].map((d) => [d.digest, d.size] as [string, number]),
  ]);
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe("usage statistics with real clients", { timeout: 180_000 }, () => {
  /** What the pulls so far must add up to. */
  let pulls = 0;
  let served = 0;
  const fetchedUpstream = new Map<string, number>();

  async function pull(mode: PullMode, img: TestImage): Promise<void> {
    assert.equal(await mode.pull(img), mode.expected(img));
    await mode.forget(img);
    const content = pulled(img);
    pulls++;
    served += sum(content);
    for (const [digest, size] of content) fetchedUpstream.set(digest, size);
  }

  test("a cold then a warm pull: misses, then as many hits, and the bytes both clients got", async () => {
    const { catalogue } = stack.hub;
    const skopeo = stack.modes["skopeo --registries-conf"];
    const img = catalogue["docker-list"];
    await pull(skopeo, img);
    await stack.mirror.process.settled();
    const cold = await statsOf(pulls, served);
    const requests = pulled(img).size;
    assert.deepEqual(
      [cold.totals.pulls, cold.totals.hits, cold.totals.misses, cold.totals.hitRatio],
      [1, 0, requests, 0],
    );
    assert.equal(cold.totals.upstreamBytes, sum(pulled(img)));
    assert.equal(cold.totals.savedBytes, 0);

    await pull(skopeo, img);
    const warm = await statsOf(pulls, served);
    assert.deepEqual(
      [warm.totals.pulls, warm.totals.hits, warm.totals.misses, warm.totals.hitRatio],
      [2, requests, requests, 0.5],
    );
    assert.equal(warm.totals.savedBytes, sum(pulled(img)));
    assert.deepEqual(warm.clients, { docker: 0, containerd: 0, podman: 2 * requests, kubelet: 0, other: 0 });
  });

  test("every client's pulls, bytes and kind; top images; upstream bytes as the upstream counted them", async () => {
    const { catalogue } = stack.hub;
    const { modes } = stack;
    await pull(modes["ctr --hosts-dir"], catalogue.oci);
    await pull(modes["dockerd registry-mirrors"], catalogue["docker-v2"]);
    await pull(modes["podman registries.conf"], catalogue.busybox);
    await pull(modes["skopeo --registries-conf"], catalogue["docker-list"]);
    await stack.mirror.process.settled();

    const s = await statsOf(pulls, served);
    assert.equal(s.totals.upstreamBytes, sum(fetchedUpstream));
    const upstreamLog = (await stack.hub.registry.accessLog()).filter(
      (r) => r.method === "GET" && r.status === 200 && UPSTREAM_CONTENT.test(r.path),
    );
    assert.equal(
      s.totals.upstreamBytes,
      upstreamLog.reduce((n, r) => n + r.bytes, 0),
      "the upstream's own count",
    );
    assert.equal(s.totals.hits + s.totals.misses, s.totals.manifestRequests + s.totals.blobRequests);
    assert.ok(s.totals.peakSpeed >= s.totals.avgSpeed);

    const { docker, containerd, podman, kubelet, other } = s.clients;
    assert.ok(docker > 0 && containerd > 0 && podman > 0, JSON.stringify(s.clients));
    assert.deepEqual([kubelet, other], [0, 0]);
    assert.equal(docker + containerd + podman, s.totals.manifestRequests + s.totals.blobRequests);
    assert.deepEqual(new Set(s.recent.map((r) => r.client)), new Set(["docker", "containerd", "podman"]));

    const one = (img: TestImage, n: number) => ({
      image: `docker.io/${img.repo}`,
      pulls: n,
      bytes: n * sum(pulled(img)),
    });
    const rest = [catalogue.oci, catalogue["docker-v2"], catalogue.busybox].map((img) => one(img, 1));
    assert.deepEqual(s.topImages.byPulls, [
      one(catalogue["docker-list"], 3),
      ...rest.sort((a, b) => b.bytes - a.bytes || a.image.localeCompare(b.image)),
    ]);
    const day = await stats("24h");
    assert.deepEqual(day.totals, s.totals);
    assert.equal(
      day.series.reduce((n, b) => n + b.pulls, 0),
      pulls,
    );
  });

  test("the figures persist across a restart", async () => {
    const before = await stats("30d");
    await stack.mirror.process.stop();
    await stack.mirror.process.start();
    const after = await stats("30d");
    assert.deepEqual(after.totals, before.totals);
    assert.deepEqual(after.topImages, before.topImages);
    assert.deepEqual(after.cache, {
      bytes: sum(fetchedUpstream),
      objects: fetchedUpstream.size,
      maxSize: null,
    });
  });
});
