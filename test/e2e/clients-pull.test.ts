// Every real client pulls every image format through hubmirror, with its real mirror configuration, from a
// Docker-Hub-like upstream (token auth): dockerd (registry-mirrors), containerd (`ctr --hosts-dir` with
// ?ns=docker.io, and `--plain-http` direct), podman (registries.conf mirror), skopeo (registries.conf mirror, and
// direct with --all). Each pull is checked against the fixture's digests and against hubmirror's counters.
//   bash test/netns-run.sh node --import tsx --test test/e2e/clients-pull.test.ts
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TestImage } from "../fixtures/images.js";
import { MODES, pullThrough } from "./pull-modes.js";
import { useStack } from "./stack.js";

const stack = useStack();

describe("real clients pull every image format through hubmirror", { timeout: 120_000 }, () => {
  test("dockerd: `docker pull busybox` by its docker.io short name, then runs it", async () => {
    const busybox = stack.hub.catalogue.busybox;
    const digest = await stack.clients.dockerd.pull("busybox");
    assert.equal(digest, busybox.manifest.digest);
    assert.equal(await stack.clients.dockerd.run("busybox", ["echo", "ok"]), "ok");
    await stack.clients.dockerd.removeImage("busybox");
  });

  for (const name of MODES) {
    test(`${name}: docker-v2, oci, docker-list, oci-index, busybox`, async (t) => {
      const mode = stack.modes[name];
      for (const img of stack.hub.images) {
        await pullThrough(mode, img, stack.mirror.process);
        t.diagnostic(`${name} × ${img.repo}: ${mode.expected(img)}`);
      }
    });
  }

  test("every blob hubmirror fetched was fetched once, and committed", async () => {
    await stack.mirror.process.settled();
    const fills = await stack.mirror.process.metric("hubmirror_blob_fills_total", { outcome: "committed" });
    const all = new Set(stack.hub.images.flatMap((img: TestImage) => img.blobs.map((b) => b.digest)));
    assert.equal(fills, all.size);
    assert.equal(await stack.mirror.process.metric("hubmirror_blob_fills_total", { outcome: "failed" }), 0);
    assert.equal(await stack.mirror.process.metric("hubmirror_blob_fills_total", { outcome: "mismatch" }), 0);
    const upstreamBlobGets = await stack.hub.registry.count({
      method: "GET",
      path: /\/blobs\/sha256:/,
      status: 200,
    });
    assert.equal(upstreamBlobGets, all.size);
  });
});
