import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import type { Digest } from "../../src/reference/reference.js";
import { blobPath } from "../../src/store/layout.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { errorCode, eventually, sha256Digest } from "../helpers.js";

describe("blobs", () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  before(async () => {
    hub = await new FakeHub().start();
    mirror = await startInProcessMirror(hub.url, { upstream: { bodyTimeout: "500ms", resumeAttempts: 2 } });
  });
  after(async () => {
    await mirror.stop();
    await hub.stop();
  });
  beforeEach(() => hub.clearFaults());

  it("fetches a miss through the CDN redirect without credentials, then serves it locally", async () => {
    const content = randomBytes(3 << 20);
    const digest = hub.addBlob(content);
    const res = await mirror.text(`/v2/library/alpine/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(content));
    assert.equal(res.headers["docker-content-digest"], digest);
    assert.equal(res.headers["content-type"], "application/octet-stream");
    assert.equal(res.headers["accept-ranges"], "bytes");
    assert.equal(Number(res.headers["content-length"]), content.length);
    const cdn = hub.requests.filter((r) => r.cdn);
    assert.equal(cdn.length, 1);
    assert.equal(cdn[0]?.authorization, undefined);
    await mirror.settled();
    const warm = await mirror.text(`/v2/library/other/blobs/${digest}`);
    assert.ok(warm.body.equals(content));
    assert.equal(hub.count("GET", /\/cdn\//), 1, "a hit goes nowhere upstream");
    assert.equal(
      await mirror.metrics.value("hubmirror_cache_requests_total", { kind: "blob", result: "hit" }),
      1,
    );
  });

  it("answers ranges with 206 on a hit and on a miss, and 416 when unsatisfiable", async () => {
    const content = randomBytes(1 << 20);
    const digest = hub.addBlob(content);
    const miss = await mirror.text(`/v2/library/r/blobs/${digest}`, { range: "bytes=1000-1999" });
    assert.equal(miss.status, 206);
    assert.equal(miss.headers["content-range"], `bytes 1000-1999/${content.length}`);
    assert.ok(miss.body.equals(content.subarray(1000, 2000)));
    const hit = await mirror.text(`/v2/library/r/blobs/${digest}`, { range: "bytes=-10" });
    assert.equal(hit.status, 206);
    assert.ok(hit.body.equals(content.subarray(content.length - 10)));
    const bad = await mirror.text(`/v2/library/r/blobs/${digest}`, { range: `bytes=${content.length}-` });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers["content-range"], `bytes */${content.length}`);
    assert.equal(errorCode(bad.body), "RANGE_INVALID");
  });

  it("answers HEAD of an uncached blob with upstream's size, downloading nothing", async () => {
    const digest = hub.addBlob(randomBytes(12345));
    const res = await mirror.get(`/v2/library/h/blobs/${digest}`, {}, "HEAD");
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-length"], "12345");
    assert.equal(hub.count("GET", new RegExp(digest.slice(7))), 0);
  });

  for (const fault of [
    { kind: "corrupt", atByte: 1 << 20 },
    { kind: "extra", bytes: 10 },
  ] as const) {
    it(`aborts clients and caches nothing when upstream lies (${fault.kind})`, async () => {
      const content = randomBytes(2 << 20);
      const digest = hub.addBlob(content);
      const mismatches = await mirror.metrics.value("hubmirror_blob_fills_total", { outcome: "mismatch" });
      hub.inject({ path: /\/cdn\//, fault, times: 1 });
      await assert.rejects(mirror.text(`/v2/library/liar/blobs/${digest}`));
      const outcome = { registry: "docker.io", outcome: "mismatch" };
      // The client is cut first; the fill counts its outcome once its temp file is gone.
      await eventually(
        "the mismatch",
        async () => (await mirror.metrics.value("hubmirror_blob_fills_total", outcome)) >= mismatches + 1,
      );
      // Nothing was kept: the next request downloads again, and this time gets the truth.
      const again = await mirror.text(`/v2/library/liar/blobs/${digest}`);
      assert.ok(again.body.equals(content));
      assert.equal(hub.count("GET", new RegExp(`/cdn/${digest}`)), 2);
    });
  }

  it("resumes a truncated download with a Range request", async () => {
    const content = randomBytes(4 << 20);
    const digest = hub.addBlob(content);
    hub.inject({ path: /\/cdn\//, fault: { kind: "truncate", afterBytes: 1 << 20 }, times: 1 });
    const res = await mirror.text(`/v2/library/t/blobs/${digest}`);
    assert.ok(res.body.equals(content));
    const ranges = hub.requests.filter((r) => r.cdn && r.path.endsWith(digest)).map((r) => r.range);
    assert.equal(ranges.length, 2);
    assert.match(String(ranges[1]), /^bytes=\d+-$/);
    assert.equal(await mirror.metrics.value("hubmirror_blob_resumes_total"), 1);
  });

  it("keeps resuming, with backoff, while the upstream is briefly unreachable", async () => {
    const content = randomBytes(3 << 20);
    const digest = hub.addBlob(content);
    hub.inject({ path: /\/cdn\//, fault: { kind: "truncate", afterBytes: 1 << 20 }, times: 1 });
    // Each re-open is tried twice by the client (retries: 1), so this fails the first resume outright.
    hub.inject({ path: /\/cdn\//, fault: { kind: "drop" }, times: 2 });
    const res = await mirror.text(`/v2/library/flaky/blobs/${digest}`);
    assert.ok(res.body.equals(content));
    assert.equal(hub.count("GET", new RegExp(`/cdn/${digest}`)), 4);
  });

  it("gives up on an upstream that stalls, within the body timeout", async () => {
    const content = randomBytes(1 << 20);
    const digest = hub.addBlob(content);
    hub.inject({ path: /\/cdn\//, fault: { kind: "stall", afterBytes: 1000 } });
    const started = Date.now();
    await assert.rejects(mirror.text(`/v2/library/s/blobs/${digest}`));
    assert.ok(Date.now() - started < 5000);
    // Nothing was committed: no file at the blob's path, and once upstream is healthy the blob is fetched again.
    await mirror.settled();
    const file = join(mirror.data, "storage", blobPath(digest as Digest));
    await assert.rejects(stat(file), { code: "ENOENT" });
    hub.clearFaults();
    const fetched = hub.count("GET", new RegExp(`/cdn/${digest}`));
    const again = await mirror.text(`/v2/library/s/blobs/${digest}`);
    assert.ok(again.body.equals(content));
    assert.equal(hub.count("GET", new RegExp(`/cdn/${digest}`)), fetched + 1);
    await mirror.settled();
    assert.ok((await stat(file)).isFile(), "committed now, at the path checked above");
  });

  it("retries a 500 before anything reached the client", async () => {
    const content = randomBytes(1000);
    const digest = hub.addBlob(content);
    hub.inject({ path: /\/cdn\//, fault: { kind: "status", status: 500 }, times: 1 });
    const res = await mirror.text(`/v2/library/five/blobs/${digest}`);
    assert.ok(res.body.equals(content));
  });

  it("answers unknown blobs 404 and bad digests 400", async () => {
    const unknown = await mirror.text(`/v2/library/u/blobs/${sha256Digest(Buffer.from("nothing"))}`);
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown.body), "BLOB_UNKNOWN");
    for (const bad of ["sha256:abc", "md5:0123", `sha256:${"G".repeat(64)}`, "nocolon:"]) {
      const res = await mirror.text(`/v2/library/u/blobs/${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal(errorCode(res.body), "DIGEST_INVALID");
    }
  });
});

describe("blobs on the in-memory driver", () => {
  it("fans out through a spool file and serves hits from memory", async () => {
    const hub = await new FakeHub().start();
    const mirror = await startInProcessMirror(hub.url, { storage: { url: "memory://" } });
    try {
      const content = randomBytes(20 << 20);
      const digest = hub.addBlob(content);
      const path = `/v2/library/mem/blobs/${digest}`;
      const [a, b] = await Promise.all([mirror.text(path), mirror.text(path, { range: "bytes=100-" })]);
      assert.ok(a.body.equals(content));
      assert.ok(b.body.equals(content.subarray(100)));
      await mirror.settled();
      assert.ok((await mirror.text(path)).body.equals(content));
      assert.equal(hub.count("GET", /\/cdn\//), 1);
      assert.deepEqual(await readdir(`${mirror.data}/spool`), [], "spool files are removed");
    } finally {
      await mirror.stop();
      await hub.stop();
    }
  });
});
