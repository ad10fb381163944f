// Issue 12 (3): each hostile upstream answer gets the client a clean OCI error, bounded in time and size, and
// leaves nothing in the cache; the mirror keeps serving. The upstream is test/fixtures/hostile-upstream.ts.
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it, type TestContext } from "node:test";
import { pino } from "pino";
import type { Digest } from "../../src/reference/reference.js";
import { uploadsDir } from "../../src/storage/fs-driver.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { type Case, HostileUpstream, OCI_MANIFEST } from "../fixtures/hostile-upstream.js";
import { verifiedStore } from "../fixtures/verify-store.js";
import { errorCode, eventually } from "../helpers.js";

const MANIFEST_CAP = 64 * 1024;
const JSON_CAP = 8 * 1024;
/** What the fixture sends as an oversized manifest or token answer: above both caps. */
const OVERSIZE = 2 * MANIFEST_CAP;
const TIMEOUT_MS = 1000;

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

describe("hostile upstream", () => {
  let hostile: HostileUpstream;
  let mirror: InProcessMirror;
  const lines: LogLine[] = [];

  before(async () => {
    hostile = await new HostileUpstream(OVERSIZE).start();
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    mirror = await startInProcessMirror(
      hostile.url,
      {
        upstream: { headersTimeout: `${TIMEOUT_MS}ms`, bodyTimeout: `${TIMEOUT_MS}ms`, resumeAttempts: 1 },
        limits: { maxManifestSize: MANIFEST_CAP, maxUpstreamJsonSize: JSON_CAP },
      },
      undefined,
      log,
    );
  });
  after(async () => {
    await mirror.stop();
    await hostile.stop();
  });

  const manifestPath = (c: Case, ref = "latest") => `/v2/library/${c}/manifests/${ref}`;
  const blobPath = (c: Case) => `/v2/library/${c}/blobs/${hostile.blob(c).digest}`;

  /** The error the client got (status, OCI code and message, within `ms`), noted in the test's output. */
  async function refusal(t: TestContext, path: string, ms = 5000) {
    const started = Date.now();
    const res = await mirror.text(path, { accept: OCI_MANIFEST });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < ms, `answered in ${elapsed} ms`);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    const message = JSON.parse(res.body.toString()).errors[0].message as string;
    const code = errorCode(res.body);
    t.diagnostic(
      `${path.split("/")[3]} ${path.split("/")[4]}: ${res.status} ${code} in ${elapsed} ms: ${message}`,
    );
    return { status: res.status, code, message, elapsed };
  }

  /** No tag, manifest or blob of the case is recorded or stored, and no temp file is left. */
  async function nothingCached(c: Case, manifestDigest = hostile.manifest(c).digest): Promise<void> {
    await mirror.settled();
    const key = { registry: "docker.io", repo: `library/${c}` };
    assert.equal(await mirror.meta.getTag(key, "latest"), undefined, "no tag row");
    assert.equal(await mirror.meta.getManifest(manifestDigest as Digest), undefined, "no manifest row");
    const blob = hostile.blob(c).digest as Digest;
    assert.equal(await mirror.meta.getBlob(blob), undefined, "no blob row");
    const stored = await verifiedStore(mirror.data);
    assert.ok(!stored.has(blob) && !stored.has(manifestDigest), "no stored bytes");
    await eventually("temp files removed", async () => {
      const temps = [
        ...(await readdir(join(mirror.data, "spool"))),
        ...(await readdir(uploadsDir(join(mirror.data, "storage")))),
      ];
      return temps.length === 0;
    });
  }

  /**
   * Bytes the fixture sent for an endless body: it writes until the mirror hangs up, so this is the cap plus what
   * socket buffers held on the way.
   */
  async function hungUp(c: Case): Promise<number> {
    await eventually("the mirror hung up", async () => hostile.hungUp.has(c));
    const sent = hostile.written.get(c) ?? 0;
    assert.ok(sent < MANIFEST_CAP + (16 << 20), `${sent} bytes sent before the cut`);
    return sent;
  }

  /** After `heal`, the same request succeeds with the right bytes: nothing bad was remembered. */
  async function healsManifest(c: Case): Promise<void> {
    hostile.heal(c);
    const res = await mirror.text(manifestPath(c), { accept: OCI_MANIFEST });
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(hostile.manifest(c).body));
    const key = { registry: "docker.io", repo: `library/${c}` };
    assert.equal((await mirror.meta.getTag(key, "latest"))?.digest, hostile.manifest(c).digest);
  }

  async function healsBlob(c: Case): Promise<void> {
    hostile.heal(c);
    const res = await mirror.text(blobPath(c));
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(hostile.blob(c).content));
    await mirror.settled();
    assert.ok((await verifiedStore(mirror.data)).has(hostile.blob(c).digest));
  }

  describe("manifests", () => {
    for (const c of ["manifest-oversized-length", "manifest-oversized-chunked"] as const) {
      it(`refuses a manifest above limits.maxManifestSize (${c})`, async (t) => {
        const r = await refusal(t, manifestPath(c));
        assert.deepEqual([r.status, r.code], [502, "UPSTREAM_ERROR"]);
        assert.match(r.message, new RegExp(`larger than ${MANIFEST_CAP} bytes`));
        await nothingCached(c);
        await healsManifest(c);
      });
    }

    it("stops reading an endless manifest at the cap", async (t) => {
      const c = "manifest-endless";
      const r = await refusal(t, manifestPath(c));
      assert.deepEqual([r.status, r.code], [502, "UPSTREAM_ERROR"]);
      assert.match(r.message, /larger than/);
      t.diagnostic(`${await hungUp(c)} bytes sent before the mirror hung up`);
      await nothingCached(c);
      await healsManifest(c);
    });

    for (const c of ["manifest-invalid-json", "manifest-html", "manifest-length-short"] as const) {
      it(`refuses a manifest that is not JSON (${c})`, async (t) => {
        const r = await refusal(t, manifestPath(c));
        assert.deepEqual([r.status, r.code], [502, "UPSTREAM_ERROR"]);
        assert.match(r.message, /not JSON/);
        await nothingCached(c);
        await healsManifest(c);
      });
    }

    it("refuses a manifest that does not match its digest, by tag and by digest", async (t) => {
      const c = "manifest-wrong-digest";
      const byTag = await refusal(t, manifestPath(c));
      assert.deepEqual([byTag.status, byTag.code], [502, "UPSTREAM_ERROR"]);
      assert.match(byTag.message, /hashes to/);
      const other = hostile.manifest("other").digest;
      const byDigest = await refusal(t, manifestPath(c, other));
      assert.deepEqual([byDigest.status, byDigest.code], [502, "UPSTREAM_ERROR"]);
      assert.match(byDigest.message, /hashes to/);
      await nothingCached(c);
      assert.equal(await mirror.meta.getManifest(other as Digest), undefined);
      await healsManifest(c);
    });

    for (const c of ["manifest-length-long", "manifest-length-long-stall", "manifest-drip-body"] as const) {
      it(`refuses a manifest body cut short or too slow (${c})`, async (t) => {
        const r = await refusal(t, manifestPath(c));
        assert.deepEqual([r.status, r.code], [502, "UPSTREAM_ERROR"]);
        assert.ok(r.elapsed < 3 * TIMEOUT_MS, `within the body timeout (${r.elapsed} ms)`);
        await nothingCached(c);
        await healsManifest(c);
      });
    }
  });

  describe("token server", () => {
    for (const [c, status, code] of [
      ["token-oversized-length", 502, "UPSTREAM_ERROR"],
      ["token-endless", 502, "UPSTREAM_ERROR"],
      ["token-invalid-json", 502, "UPSTREAM_ERROR"],
      ["token-html", 502, "UPSTREAM_ERROR"],
      ["token-drip-body", 502, "UPSTREAM_ERROR"],
      // No answer in time is an unreachable token server, as for the registry.
      ["token-drip-headers", 503, "UPSTREAM_UNAVAILABLE"],
    ] as const) {
      it(`refuses a token answer (${c})`, async (t) => {
        const r = await refusal(t, manifestPath(c));
        assert.deepEqual([r.status, r.code], [status, code]);
        assert.match(r.message, /token/);
        if (c === "token-endless") t.diagnostic(`${await hungUp(c)} bytes sent before the mirror hung up`);
        await nothingCached(c);
        await healsManifest(c);
      });
    }
  });

  describe("blobs", () => {
    for (const [c, outcome] of [
      ["blob-length-short", "mismatch"],
      ["blob-length-long", "failed"],
      ["blob-length-long-stall", "failed"],
      ["blob-endless-length", "mismatch"],
    ] as const) {
      it(`cuts the client and commits nothing when the length lies (${c})`, async (t) => {
        const fills = { registry: "docker.io", outcome };
        const before = await mirror.metrics.value("hubmirror_blob_fills_total", fills);
        const res = await mirror.get(blobPath(c));
        // The answer started before the lie showed: the client must never get a whole body.
        assert.equal(res.statusCode, 200);
        const got: Buffer[] = [];
        await assert.rejects(async () => {
          for await (const chunk of res.body) got.push(chunk as Buffer);
        });
        const announced = Number(res.headers["content-length"]);
        const received = Buffer.concat(got).length;
        assert.ok(received < announced, "the client knows its body is short");
        t.diagnostic(`${c}: 200, Content-Length ${announced}, cut after ${received} bytes`);
        await nothingCached(c);
        assert.equal(await mirror.metrics.value("hubmirror_blob_fills_total", fills), before + 1);
        await healsBlob(c);
      });
    }

    it("refuses a blob without a length before any byte", async (t) => {
      const c = "blob-endless-chunked";
      const r = await refusal(t, blobPath(c));
      assert.deepEqual([r.status, r.code], [502, "UPSTREAM_ERROR"]);
      await nothingCached(c);
      await healsBlob(c);
    });

    it("never reads past a blob's Content-Length", async () => {
      const c = "blob-trailing-garbage";
      const res = await mirror.text(blobPath(c));
      assert.equal(res.status, 200);
      assert.ok(res.body.equals(hostile.blob(c).content));
      await mirror.settled();
      assert.ok((await verifiedStore(mirror.data)).has(hostile.blob(c).digest), "the true bytes, verified");
    });
  });

  describe("manifests and blobs", () => {
    it("gives up on headers dripped a byte at a time, at the header timeout", async (t) => {
      const c = "headers-drip";
      for (const path of [manifestPath(c), blobPath(c)]) {
        const r = await refusal(t, path, 4 * TIMEOUT_MS + 1000);
        assert.deepEqual([r.status, r.code], [503, "UPSTREAM_UNAVAILABLE"]);
      }
      await nothingCached(c);
      await healsManifest(c);
      await healsBlob(c);
    });

    for (const [c, hop, why] of [
      ["redirect-loop", "loop", /loop/],
      ["redirect-chain", "chain", /more than 5 times/],
    ] as const) {
      it(`follows redirects a bounded number of times (${c})`, async (t) => {
        for (const path of [manifestPath(c), blobPath(c)]) {
          const before = hostile.hits.get(hop) ?? 0;
          const r = await refusal(t, path);
          assert.deepEqual([r.status, r.code], [502, "UPSTREAM_ERROR"]);
          assert.match(r.message, why);
          const hops = (hostile.hits.get(hop) ?? 0) - before;
          assert.ok(hops > 0 && hops <= 5, `${hops} hops, once: a redirect dead end is not retried`);
        }
        await nothingCached(c);
        await healsManifest(c);
        await healsBlob(c);
      });
    }
  });

  describe("afterwards", () => {
    it("serves well-behaved requests, counts and logs each refusal", async () => {
      const good = await mirror.text(manifestPath("good"), { accept: OCI_MANIFEST });
      assert.ok(good.body.equals(hostile.manifest("good").body));
      const blob = await mirror.text(blobPath("good"));
      assert.ok(blob.body.equals(hostile.blob("good").content));
      for (const reason of ["too_large", "malformed", "mismatch", "cut", "too_slow", "redirects"]) {
        const refused = { registry: "docker.io", reason };
        assert.ok((await mirror.metrics.value("hubmirror_upstream_refused_total", refused)) > 0, reason);
        assert.ok(
          lines.some((l) => l.msg === "upstream answer refused" && l.reason === reason),
          `a log line for ${reason}`,
        );
      }
      const internal = await mirror.metrics.value("hubmirror_http_requests_total", { status: "500" });
      assert.equal(internal, 0, "no hostile answer became an internal error");
      assert.deepEqual(
        lines.filter((l) => l.msg === "internal error"),
        [],
        "no internal error logged",
      );
      const scrape = await mirror.text("/metrics");
      assert.match(
        scrape.body.toString(),
        /hubmirror_upstream_refused_total\{registry="docker.io",reason="too_large"\} \d+/,
      );
    });
  });
});
