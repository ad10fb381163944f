import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { useHubAndMirror } from "../fakes/mirror.js";
import { get, RawConnection } from "../fakes/raw-client.js";
import { errorCode, eventually, sha256Digest, streamDigest } from "../helpers.js";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

describe("limits on requests", () => {
  const env = useHubAndMirror(
    { limits: { requestTimeout: "1s", minSendRate: "64KiB", sendRateWindow: "1s" } },
    { resetHub: true },
  );
  const exceeded = (limit: string) => env.mirror.metrics.value("hubmirror_limit_exceeded_total", { limit });

  it("answers 503 when a manifest is not answered within the request timeout, and caches it later", {
    timeout: 20_000,
  }, async () => {
    const digest = env.hub.addManifest(
      "library/slow",
      { schemaVersion: 2, mediaType: MANIFEST },
      MANIFEST,
      "v1",
    );
    env.hub.inject({ path: /\/manifests\//, fault: { kind: "delay", ms: 2500 }, times: 1 });
    const started = performance.now();
    const res = await env.mirror.text("/v2/library/slow/manifests/v1", { accept: MANIFEST });
    const ms = performance.now() - started;
    assert.equal(res.status, 503);
    assert.equal(errorCode(res.body), "UNAVAILABLE");
    assert.ok(ms >= 950 && ms < 2000, `answered after ${Math.round(ms)} ms`);
    assert.equal(await exceeded("requestTimeout"), 1);
    // The fetch went on: once upstream answered, the manifest is in the cache.
    await sleep(2000);
    const fetches = env.hub.count("GET", /\/manifests\//);
    const again = await env.mirror.text(`/v2/library/slow/manifests/${digest}`, { accept: MANIFEST });
    assert.equal(again.status, 200);
    assert.equal(env.hub.count("GET", /\/manifests\//), fetches, "served from the cache");
  });

  it("does not cut a blob body that takes longer than the request timeout", { timeout: 20_000 }, async () => {
    const content = randomBytes(3 << 20);
    const digest = env.hub.addBlob(content);
    env.hub.throttle = 1 << 20;
    const started = performance.now();
    const res = await env.mirror.get(`/v2/library/big/blobs/${digest}`);
    assert.equal(res.statusCode, 200);
    const got = await streamDigest(res.body);
    assert.ok(performance.now() - started > 2000, "the body took longer than the timeout");
    assert.deepEqual(got, { digest, size: content.length });
    assert.equal(await exceeded("requestTimeout"), 1, "no new timeout");
  });

  it("cuts a blob reader that stops reading, while the download completes for another reader", {
    timeout: 20_000,
  }, async () => {
    const content = randomBytes(32 << 20);
    const digest = env.hub.addBlob(content);
    assert.equal(digest, sha256Digest(content));
    env.hub.throttle = 16 << 20;
    const path = `/v2/library/big/blobs/${digest}`;
    const stuck = await RawConnection.open(env.mirror.url);
    // Never reads: the kernel's buffers fill, then the mirror has bytes waiting for it.
    stuck.socket.pause();
    stuck.send(get(path));
    const reader = env.mirror.get(path).then(async (res) => streamDigest(res.body));
    await eventually("the stuck reader cut", async () => (await exceeded("minSendRate")) === 1, 8000);
    assert.deepEqual(await reader, { digest, size: content.length });
    stuck.socket.resume();
    const cut = await stuck.closed;
    assert.equal(cut.status, 200);
    assert.ok(cut.text.length < content.length, `the stuck reader got ${cut.text.length} bytes`);
    await env.mirror.settled();
    assert.equal(await env.mirror.metrics.value("hubmirror_blob_fills_total", { outcome: "committed" }), 2);
    assert.equal(await exceeded("minSendRate"), 1, "the reader that kept reading was not cut");
  });
});
