// Tiered mode (the original service's design): blobs land in the primary cache, a background worker copies them
// to the offload target, and GETs are then redirected to a CDN in front of it with a signed URL. The offload
// target here is a directory behind a real nginx checking secure_link signatures (object storage: s3 tests).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { type CdnNginx, startCdnNginx, tamperedSignature } from "../fixtures/cdn-nginx.js";
import { eventually } from "../helpers.js";

const SECRET = "cdn-secret";

describe("tiered storage with CDN redirects", () => {
  let dir: string;
  let hub: FakeHub;
  let cdn: CdnNginx;
  let mirror: InProcessMirror;
  const copied = (outcome: string) => mirror.metrics.value("hubmirror_offload_copies_total", { outcome });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hubmirror-tiered-"));
    await mkdir(join(dir, "offload"));
    hub = await new FakeHub().start();
    cdn = await startCdnNginx(join(dir, "offload"), SECRET, join(dir, "nginx"));
    mirror = await startInProcessMirror(hub.url, {
      offload: { url: `fs://${dir}/offload`, interval: "100ms", minSize: 1000 },
      storage: {
        redirect: {
          mode: "cdn",
          expiry: "1m",
          cdn: { baseUrl: cdn.secureLinkBase, signer: "nginx-secure-link", secret: SECRET },
          directUserAgents: ["^old-client/"],
        },
      },
    });
  });
  after(async () => {
    await mirror.stop();
    await cdn.stop();
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves a new blob itself, offloads it, then redirects GETs to the CDN with a signed URL", async () => {
    const content = randomBytes(2 << 20);
    const digest = hub.addBlob(content);
    const path = `/v2/library/tiered/blobs/${digest}`;
    const first = await mirror.text(path);
    assert.equal(first.status, 200);
    assert.ok(first.body.equals(content));
    await eventually("the offload copy", async () => (await copied("copied")) === 1);

    const res = await mirror.get(path);
    await res.body.dump();
    assert.equal(res.statusCode, 307);
    const location = String(res.headers.location);
    assert.ok(location.startsWith(`${cdn.secureLinkBase}/blobs/sha256/`), location);
    assert.match(location, /[?&]md5=[\w-]{22}&expires=\d+$/);
    assert.ok(!location.includes(SECRET), "no secret in the URL");
    const fromCdn = await request(location);
    assert.equal(fromCdn.statusCode, 200);
    assert.ok(Buffer.from(await fromCdn.body.arrayBuffer()).equals(content));
    const tampered = await request(tamperedSignature(location, "md5"));
    await tampered.body.dump();
    assert.equal(tampered.statusCode, 403);

    const head = await mirror.get(path, {}, "HEAD");
    await head.body.dump();
    assert.equal(head.statusCode, 200, "HEAD is answered here");
    const old = await mirror.text(path, { "user-agent": "old-client/1.0" });
    assert.equal(old.status, 200, "a client that can't follow redirects is served directly");
    assert.ok(old.body.equals(content));
    assert.equal(hub.count("GET", /\/cdn\//), 1, "one upstream download in all");
    assert.equal(await mirror.metrics.value("hubmirror_cache_requests_total", { result: "redirect" }), 1);
  });

  it("keeps small blobs below the policy's size local", async () => {
    const content = randomBytes(500);
    const digest = hub.addBlob(content);
    assert.equal((await mirror.text(`/v2/library/tiny/blobs/${digest}`)).status, 200);
    await new Promise((ok) => setTimeout(ok, 300));
    const again = await mirror.text(`/v2/library/tiny/blobs/${digest}`);
    assert.equal(again.status, 200);
    assert.equal(await copied("failed"), 0);
  });

  it("serves from the primary cache while the offload target fails, and records the failure", async () => {
    // A file where the offload driver needs a directory: every copy into blobs/sha256/<xx>/ fails.
    const content = randomBytes(4096);
    const digest = hub.addBlob(content);
    const hex = digest.slice("sha256:".length);
    await mkdir(join(dir, "offload", "blobs", "sha256"), { recursive: true });
    await writeFile(join(dir, "offload", "blobs", "sha256", hex.slice(0, 2)), "in the way");
    const path = `/v2/library/unlucky/blobs/${digest}`;
    assert.ok((await mirror.text(path)).body.equals(content));
    await eventually("the failed copy", async () => (await copied("failed")) >= 1);
    const again = await mirror.text(path);
    assert.equal(again.status, 200, "no redirect to a target that lacks the blob");
    assert.ok(again.body.equals(content));
    const status = await mirror.meta.offloadStatus({ minSize: 1000, minRequests: 0 });
    assert.equal(status.failed.count, 1);
    assert.equal(status.synced.count, 1);
  });
});
