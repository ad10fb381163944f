// Blob transfers that go wrong, with real parts: the upstream registry SIGKILLed in the middle of a 100 MiB layer
// (then restarted), and an upstream whose blob bodies carry a flipped byte. A fault proxy sits between hubmirror
// and the registry: it cuts the body at an exact byte, holding the connection while the test kills (and restarts)
// the registry, and it flips bytes. Nothing bad may be cached: every file in hubmirror's blob store must hash to its
// name, no temp file may be left, and a client must never get a complete body of bad bytes. dockerd is left out of
// the corruption test: it retries a failed layer with growing pauses (75 s in all here) before it gives up, and its
// harness sets no max-download-attempts.
//   bash test/netns-run.sh node --import tsx --test test/e2e/faults-transfer.test.ts
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MiB } from "../fixtures/blob-store.js";
import { type BlobFile, biggestBlob, makeBlobImage, type TestImage } from "../fixtures/images.js";
import { pullThrough } from "./pull-modes.js";
import { useStack, verifiedStore } from "./stack.js";

const FILLS = "hubmirror_blob_fills_total";
const RESUMES = "hubmirror_blob_resumes_total";

/** One 100 MiB layer, and one of 4 MiB for the corruption tests. */
let big: TestImage;
let small: TestImage;

const stack = useStack({
  prepare: async (hub) => {
    [big, small] = await Promise.all([makeBlobImage(100 * MiB), makeBlobImage(4 * MiB)]);
    for (const img of [big, small]) await hub.push(img);
  },
  faultProxy: true,
  timeout: 90_000,
});

const qualified = (img: TestImage) => `docker.io/${img.repo}:latest`;
const blobGets = (layer: BlobFile) => ({ path: new RegExp(`/blobs/${layer.digest}$`), method: "GET" });

/** Polls a mirror counter until it exceeds `than` (fills settle just after the client saw the outcome). */
async function counterAbove(name: string, labels: Record<string, string>, than: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  let value = await stack.mirror.process.metric(name, labels);
  while (value <= than && Date.now() < deadline) {
    await sleep(50);
    value = await stack.mirror.process.metric(name, labels);
  }
  return value;
}

/** The store is sound: every blob hashes right, `absent` is not there, and no temp or spool file is left. */
async function assertNothingBadCached(absent?: string): Promise<void> {
  const stored = await verifiedStore(stack.mirror.data);
  if (absent) assert.ok(!stored.has(absent), `${absent} was cached`);
  for (const dir of [join(stack.mirror.data, "storage", "_uploads"), join(stack.mirror.data, "spool")]) {
    const left = await readdir(dir).catch(() => []);
    assert.deepEqual(left, [], `temp files left in ${dir}`);
  }
}

describe("transfer faults: a killed upstream, corrupted bytes", { timeout: 180_000 }, () => {
  test("registry killed at 40 of 100 MiB and still down: the pull fails cleanly, nothing is cached", async () => {
    const layer = biggestBlob(big);
    const failed = await stack.mirror.process.metric(FILLS, { outcome: "failed" });
    const faulted = stack.proxy.faulted;
    const then = () => stack.hub.registry.kill("SIGKILL");
    stack.proxy.setFault({ ...blobGets(layer), times: 1, fault: { cutAfter: 40 * MiB, then } });
    try {
      await assert.rejects(
        stack.clients.skopeo.copyViaMirror(qualified(big), join(stack.clients.skopeo.dir, "killed")),
      );
      assert.equal(stack.proxy.faulted, faulted + 1, "the body was cut");
      // hubmirror tried to resume (the registry was down), gave up, and failed the download.
      assert.ok((await counterAbove(FILLS, { outcome: "failed" }, failed)) > failed, "the fill failed");
      await assertNothingBadCached(layer.digest);
    } finally {
      stack.proxy.setFault(null);
      await stack.hub.registry.restart();
    }
  });

  test("registry killed at 60 of 100 MiB and restarted: hubmirror resumes, the pull completes", async () => {
    const layer = biggestBlob(big);
    const resumes = await stack.mirror.process.metric(RESUMES);
    const committed = await stack.mirror.process.metric(FILLS, { outcome: "committed" });
    const then = async () => {
      await stack.hub.registry.kill("SIGKILL");
      await stack.hub.registry.restart();
    };
    stack.proxy.setFault({ ...blobGets(layer), times: 1, fault: { cutAfter: 60 * MiB, then } });
    await stack.hub.registry.clearAccessLog();
    try {
      await pullThrough(stack.modes["ctr --hosts-dir"], big, stack.mirror.process);
    } finally {
      stack.proxy.setFault(null);
    }
    assert.ok((await stack.mirror.process.metric(RESUMES)) > resumes, "resumed");
    assert.ok((await counterAbove(FILLS, { outcome: "committed" }, committed)) > committed);
    // The killed registry never logged the cut GET; the restarted one got one Range request for the rest.
    const log = await stack.hub.registry.accessLog();
    const answered = log.filter((r) => r.path.endsWith(`/blobs/${layer.digest}`) && r.status < 300);
    assert.deepEqual(
      answered.map((r) => r.status),
      [206],
    );
    assert.ok((answered[0]?.bytes ?? 0) <= layer.size - 60 * MiB + MiB, "resumed from the cut");
    const stored = await verifiedStore(stack.mirror.data);
    assert.ok(stored.has(layer.digest), "the resumed layer is cached");
    await assertNothingBadCached();
  });

  test("a flipped byte in a blob body: hubmirror caches nothing, every client fails", async () => {
    const layer = biggestBlob(small);
    const mismatch = await stack.mirror.process.metric(FILLS, { outcome: "mismatch" });
    const faulted = stack.proxy.faulted;
    stack.proxy.setFault({ ...blobGets(layer), fault: { flipByteAt: 3 * MiB } });
    try {
      // A client reading the blob itself gets all but the last byte, then a cut: never a whole body of bad bytes.
      const res = await fetch(`${stack.mirror.process.url}/v2/${small.repo}/blobs/${layer.digest}`);
      assert.equal(res.status, 200);
      await assert.rejects(res.arrayBuffer());
      await assert.rejects(
        stack.clients.skopeo.copyViaMirror(qualified(small), join(stack.clients.skopeo.dir, "corrupt")),
      );
      await assert.rejects(stack.clients.containerd.pullViaHostsDir(qualified(small)));
      await assert.rejects(stack.clients.podman.pull(qualified(small)));
      assert.ok(stack.proxy.faulted - faulted >= 4, "every attempt got flipped bytes");
      assert.ok((await counterAbove(FILLS, { outcome: "mismatch" }, mismatch)) > mismatch, "digest mismatch");
      await assertNothingBadCached(layer.digest);
    } finally {
      stack.proxy.setFault(null);
    }
    // Nothing bad was kept: with the upstream healthy again, the image pulls and the layer is cached.
    await pullThrough(stack.modes["skopeo --registries-conf"], small, stack.mirror.process);
    assert.ok((await verifiedStore(stack.mirror.data)).has(layer.digest));
  });
});
