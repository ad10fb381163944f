// Shutdown: transfers get shutdownTimeout to finish; then every download still running is aborted (its upstream
// request too), the process can exit, and nothing half-written is committed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { it } from "node:test";
import type { Digest } from "../../src/reference/reference.js";
import { blobPath } from "../../src/store/layout.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { startInProcessMirror } from "../fakes/mirror.js";

it("aborts downloads left after shutdownTimeout and commits nothing", async () => {
  const hub = await new FakeHub().start();
  const content = randomBytes(8 << 20);
  const digest = hub.addBlob(content) as Digest;
  // 8 MiB at 1 MiB/s: far longer than the grace period.
  hub.throttle = 1 << 20;
  const mirror = await startInProcessMirror(hub.url, { shutdownTimeout: "300ms" });
  try {
    const res = await mirror.get(`/v2/library/slow/blobs/${digest}`);
    assert.equal(res.statusCode, 200);
    res.body.on("error", () => {}).resume();
    await new Promise((ok) => setTimeout(ok, 200));
    const started = Date.now();
    await mirror.close();
    const took = Date.now() - started;
    assert.ok(took < 3000, `shutdown took ${took} ms`);
    await assert.rejects(stat(join(mirror.data, "storage", blobPath(digest))), { code: "ENOENT" });
    assert.deepEqual(await readdir(join(mirror.data, "storage", "_uploads")), [], "no temp file is left");
    const cdnGets = hub.count("GET", /\/cdn\//);
    await new Promise((ok) => setTimeout(ok, 300));
    assert.equal(hub.count("GET", /\/cdn\//), cdnGets, "no resume after the abort");
  } finally {
    await hub.stop();
    await rm(mirror.data, { recursive: true, force: true });
  }
});
