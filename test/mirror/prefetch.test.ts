// Prefetch in-process, against FakeHub: platform selection, per-image failures, interrupted runs, the admin API's
// stream and the watch list. The real-upstream, real-client proof is test/e2e/prefetch.test.ts.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { type Platform, parsePlatform } from "../../src/lifecycle/platforms.js";
import type { PrefetchEvent, PrefetchSummary } from "../../src/lifecycle/prefetch-events.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror, useHubAndMirror } from "../fakes/mirror.js";
import { eventually } from "../helpers.js";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI = "application/vnd.oci.image.manifest.v1+json";
const LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

interface Child {
  platform: Platform;
  digest: string;
  blobs: { digest: string; size: number }[];
}

function blob(hub: FakeHub, size: number) {
  return { digest: hub.addBlob(randomBytes(size)), size };
}

/** An image manifest with a new config and `layers`, under `tag` if given. */
function manifest(hub: FakeHub, repo: string, layers: { digest: string; size: number }[], tag?: string) {
  const config = blob(hub, 200);
  const body = {
    schemaVersion: 2,
    mediaType: OCI,
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: layers.map((l) => ({ mediaType: LAYER, ...l })),
  };
  return { digest: hub.addManifest(repo, body, OCI, tag), blobs: [config, ...layers] };
}

/** An index: per platform a manifest with a shared base layer and one of its own. */
function multiPlatform(hub: FakeHub, repo: string, tag: string, platforms: string[], size = 64 << 10) {
  const base = blob(hub, size);
  const children: Child[] = platforms.map((name) => {
    const m = manifest(hub, repo, [base, blob(hub, size)]);
    return { platform: parsePlatform(name), ...m };
  });
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c) => ({
      mediaType: OCI,
      digest: c.digest,
      size: 1,
      platform: { os: c.platform.os, architecture: c.platform.architecture, variant: c.platform.variant },
    })),
  };
  return { digest: hub.addManifest(repo, index, OCI_INDEX, tag), children, base };
}

const fetchedFromCdn = (hub: FakeHub, digest: string) => hub.count("GET", new RegExp(`/cdn/${digest}$`));

describe("prefetch", () => {
  const env = useHubAndMirror({ prefetch: { concurrency: 2 } }, { resetHub: true });

  const prefetch = (images: string[], platforms: string[] = [], signal?: AbortSignal) => {
    const events: PrefetchEvent[] = [];
    const done = env.mirror.lifecycle.prefetcher.run({
      images,
      platforms: platforms.map(parsePlatform),
      signal,
      onEvent: (e) => events.push(e),
    });
    return { events, done };
  };

  it("fetches the chosen platform's manifests and blobs only; a pull of it then costs nothing upstream", async () => {
    const img = multiPlatform(env.hub, "library/multi", "1", [
      "linux/amd64",
      "linux/arm64/v8",
      "linux/arm/v7",
    ]);
    const [amd64, arm64, armv7] = img.children as [Child, Child, Child];
    const bytesBefore = await env.mirror.metrics.value("hubmirror_prefetch_bytes_total");
    const { events, done } = prefetch(["multi:1"], ["linux/arm/v7", "linux/arm64"]);
    const summary = await done;

    for (const b of [...armv7.blobs, ...arm64.blobs])
      assert.equal(fetchedFromCdn(env.hub, b.digest), 1, b.digest);
    assert.equal(fetchedFromCdn(env.hub, amd64.blobs[0]?.digest as string), 0, "amd64 config not fetched");
    assert.equal(fetchedFromCdn(env.hub, amd64.blobs[2]?.digest as string), 0, "amd64 layer not fetched");
    assert.equal(env.hub.count("GET", new RegExp(`manifests/${amd64.digest}$`)), 0);
    const wanted = new Map([...armv7.blobs, ...arm64.blobs].map((b) => [b.digest, b.size]));
    const bytes = [...wanted.values()].reduce((a, b) => a + b, 0);
    assert.deepEqual(summary.images, { total: 1, ok: 1, failed: 0 });
    assert.deepEqual(summary.blobs, { total: wanted.size, fetched: wanted.size, cached: 0 });
    assert.deepEqual(summary.bytes, { total: bytes, done: bytes, fetched: bytes, cached: 0 });
    assert.equal((await env.mirror.metrics.value("hubmirror_prefetch_bytes_total")) - bytesBefore, bytes);

    const image = events.find((e) => e.type === "image");
    assert.deepEqual(image, {
      type: "image",
      image: "multi:1",
      digest: img.digest,
      platforms: ["linux/arm64/v8", "linux/arm/v7"],
      missing: [],
      layers: 3,
      blobs: 5,
      bytes,
    });
    const started = events.filter((e) => e.type === "blob-start").map((e) => "digest" in e && e.digest);
    assert.deepEqual(new Set(started), new Set(wanted.keys()), "each blob started once");
    assert.equal(events.at(-1)?.type, "progress", "the last figures go out before the summary");

    await env.mirror.settled();
    const upstream = env.hub.requests.length;
    for (const child of [armv7, arm64]) {
      assert.equal((await env.mirror.text(`/v2/library/multi/manifests/${child.digest}`)).status, 200);
      for (const b of child.blobs) {
        const res = await env.mirror.text(`/v2/library/multi/blobs/${b.digest}`);
        assert.equal(res.body.length, b.size);
      }
    }
    assert.equal((await env.mirror.text("/v2/library/multi/manifests/1")).status, 200);
    assert.equal(env.hub.requests.length, upstream, "the pull sent nothing upstream");
  });

  it("takes every platform but attestations by default; unknown/unknown asks for those too", async () => {
    const img = multiPlatform(env.hub, "library/attested", "1", [
      "linux/amd64",
      "linux/s390x",
      "unknown/unknown",
    ]);
    const [amd64, s390x, attestation] = img.children as [Child, Child, Child];
    const all = await prefetch(["attested:1"]).done;
    assert.equal(all.images.ok, 1);
    for (const b of [...amd64.blobs, ...s390x.blobs]) assert.equal(fetchedFromCdn(env.hub, b.digest), 1);
    assert.equal(fetchedFromCdn(env.hub, attestation.blobs[0]?.digest as string), 0);
    const asked = await prefetch(["attested:1"], ["unknown/unknown"]).done;
    assert.deepEqual(asked.blobs, { total: 3, fetched: 2, cached: 1 }, "the shared base layer was cached");
    for (const b of attestation.blobs) assert.equal(fetchedFromCdn(env.hub, b.digest), 1);
  });

  it("fails a bad reference, an unknown tag and a missing platform each on its own; the others are fetched", async () => {
    multiPlatform(env.hub, "library/armonly", "1", ["linux/arm/v7"]);
    const good = multiPlatform(env.hub, "library/good", "1", ["linux/amd64", "linux/arm/v7"]);
    const { events, done } = prefetch(
      ["Bad Ref!", "library/good:1", "library/absent:1", "armonly:1"],
      ["linux/amd64", "linux/ppc64le"],
    );
    const s = await done;
    assert.deepEqual(s.images, { total: 4, ok: 1, failed: 3 });
    const reasons = Object.fromEntries(s.failures.map((f) => [f.image, f.error]));
    assert.match(reasons["Bad Ref!"] ?? "", /invalid .*Bad Ref!/);
    assert.match(reasons["library/absent:1"] ?? "", /manifest library\/absent:1 not found upstream/);
    assert.equal(
      reasons["armonly:1"],
      "no manifest for linux/amd64, linux/ppc64le (the index has linux/arm/v7)",
    );
    for (const b of good.children[0]?.blobs ?? []) assert.equal(fetchedFromCdn(env.hub, b.digest), 1);
    const image = events.find((e) => e.type === "image" && e.image === "library/good:1");
    assert.deepEqual(image && "missing" in image && image.missing, ["linux/ppc64le"]);
    assert.equal(events.filter((e) => e.type === "image-failed").length, 3);
  });

  it("resumes: an interrupted run's blobs are fetched once, and a run after that finds all of them cached", async () => {
    const layers = Array.from({ length: 6 }, () => blob(env.hub, 256 << 10));
    const m = manifest(env.hub, "library/slow", layers, "1");
    env.hub.throttle = 1 << 20;
    const aborter = new AbortController();
    const first = prefetch(["slow:1"], [], aborter.signal);
    await eventually("a first blob", async () =>
      first.events.some((e) => e.type === "blob-done" && !e.cached),
    );
    aborter.abort();
    await assert.rejects(first.done, { name: "AbortError" });
    const doneFirst = first.events.filter((e) => e.type === "blob-done").length;
    assert.ok(doneFirst < m.blobs.length, "interrupted before the end");
    env.hub.throttle = 0;
    // Downloads the first run had started finish into the cache (they are not the run's alone).
    await env.mirror.settled();

    const second = await prefetch(["slow:1"]).done;
    assert.equal(second.blobs.fetched + second.blobs.cached, m.blobs.length);
    assert.ok(second.blobs.cached >= doneFirst, "what the first run got is cached");
    assert.ok(second.blobs.fetched > 0, "what it had not started is fetched now");
    for (const b of m.blobs) assert.equal(fetchedFromCdn(env.hub, b.digest), 1, `${b.digest} fetched once`);

    await env.mirror.settled();
    const upstream = env.hub.count("GET", /\/cdn\//);
    const third = await prefetch(["slow:1"]).done;
    assert.deepEqual(third.blobs, { total: m.blobs.length, fetched: 0, cached: m.blobs.length });
    assert.equal(third.bytes.fetched, 0);
    assert.equal(env.hub.count("GET", /\/cdn\//), upstream, "no blob GET upstream");
  });

  it("shares its download with a client pulling the same blob at the same time", async () => {
    const layer = blob(env.hub, 1 << 20);
    manifest(env.hub, "library/shared", [layer], "1");
    env.hub.throttle = 4 << 20;
    const run = prefetch(["shared:1"]);
    await eventually("the download", async () =>
      run.events.some((e) => e.type === "blob-start" && e.size === layer.size),
    );
    const client = await env.mirror.text(`/v2/library/shared/blobs/${layer.digest}`);
    const s = await run.done;
    assert.equal(client.body.length, layer.size);
    assert.equal(s.images.ok, 1);
    assert.equal(fetchedFromCdn(env.hub, layer.digest), 1, "one upstream download for both");
  });

  it("POST /admin/prefetch streams the events as JSON lines, the summary last; refuses a bad request", async () => {
    const img = multiPlatform(env.hub, "library/api", "1", ["linux/amd64"]);
    const res = await fetch(`${env.mirror.url}/admin/prefetch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ images: ["api:1"], platforms: ["linux/amd64"] }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string });
    assert.equal(lines[0]?.type, "start");
    const done = lines.at(-1) as PrefetchSummary & { type: string };
    assert.equal(done.type, "done");
    assert.deepEqual(done.images, { total: 1, ok: 1, failed: 0 });
    assert.equal(done.blobs.fetched, img.children[0]?.blobs.length);

    const bad = async (body: unknown) => {
      const r = await fetch(`${env.mirror.url}/admin/prefetch`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      const e = (await r.json()) as { errors: { code: string; message: string }[] };
      return { status: r.status, code: e.errors[0]?.code, message: e.errors[0]?.message };
    };
    assert.deepEqual(await bad({ images: ["api:1"], platforms: ["linux"] }), {
      status: 400,
      code: "REQUEST_INVALID",
      message: 'invalid platform "linux": expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7',
    });
    assert.equal((await bad({ images: [] })).status, 400);
    assert.match((await bad({ image: "api:1" })).message ?? "", /"images"/);
  });

  it("stops when the admin API's caller goes away: blobs not started by then are never fetched", async () => {
    const layers = Array.from({ length: 8 }, () => blob(env.hub, 256 << 10));
    const m = manifest(env.hub, "library/left", layers, "1");
    env.hub.throttle = 1 << 20;
    const aborter = new AbortController();
    const res = await fetch(`${env.mirror.url}/admin/prefetch`, {
      method: "POST",
      body: JSON.stringify({ images: ["left:1"] }),
      signal: aborter.signal,
    });
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes('"blob-start"')) text += new TextDecoder().decode((await reader.read()).value);
    aborter.abort();
    await eventually(
      "the run to stop",
      async () => (await env.mirror.metrics.value("hubmirror_blob_fills_in_flight")) === 0,
    );
    env.hub.throttle = 0;
    const fetched = m.blobs.filter((b) => fetchedFromCdn(env.hub, b.digest) === 1).length;
    assert.ok(
      fetched > 0 && fetched <= 3,
      `${fetched} blobs fetched: those started (concurrency 2), no more`,
    );
  });
});

describe("the watch list", () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  let first: { digest: string; blobs: { digest: string; size: number }[] };
  const logged: { level: number; msg: string; image?: string; err?: string }[] = [];
  before(async () => {
    hub = await new FakeHub().start();
    first = manifest(hub, "library/watched", [blob(hub, 32 << 10)], "latest");
    const log = pino({ level: "info" }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    mirror = await startInProcessMirror(
      hub.url,
      {
        cache: { tagTtl: "200ms" },
        prefetch: { images: ["watched", "library/never-pushed:1"], interval: "300ms" },
      },
      undefined,
      log,
    );
  });
  after(async () => {
    await mirror.stop();
    await hub.stop();
  });

  it("is fetched shortly after start, a failing image notwithstanding", async () => {
    for (const b of first.blobs)
      await eventually("the watched image's blobs", async () => fetchedFromCdn(hub, b.digest) === 1);
    const warned = logged.find((l) => l.level === 40 && l.image === "library/never-pushed:1");
    assert.match(warned?.err ?? "", /library\/never-pushed:1 not found upstream/);
    assert.equal((await mirror.text("/metrics")).status, 200, "the mirror serves on");
  });

  it("brings a moved tag's new content once the tag's TTL is over", async () => {
    const moved = manifest(hub, "library/watched", [blob(hub, 32 << 10)], "latest");
    for (const b of moved.blobs)
      await eventually("the new content", async () => fetchedFromCdn(hub, b.digest) === 1);
    for (const b of first.blobs)
      assert.equal(fetchedFromCdn(hub, b.digest), 1, "old content not fetched again");
    await mirror.settled();
    const upstream = hub.count("GET", /\/cdn\//);
    const res = await mirror.text(`/v2/library/watched/blobs/${moved.blobs[1]?.digest}`);
    assert.equal(res.body.length, 32 << 10);
    assert.equal(hub.count("GET", /\/cdn\//), upstream, "served from the cache");
  });
});

describe("the watch list at shutdown", () => {
  it("stop() aborts the run under way without waiting for its downloads", async () => {
    const hub = await new FakeHub().start();
    const layer = blob(hub, 1 << 20);
    manifest(hub, "library/big", [layer], "latest");
    hub.throttle = 64 << 10;
    const mirror = await startInProcessMirror(hub.url, {
      prefetch: { images: ["big"] },
      shutdownTimeout: "200ms",
    });
    try {
      await eventually("the download", async () => fetchedFromCdn(hub, layer.digest) === 1, 10_000);
      await mirror.lifecycle.stop();
      assert.equal(await mirror.metrics.value("hubmirror_blob_fills_in_flight"), 1, "stopped mid-download");
    } finally {
      await mirror.stop();
      await hub.stop();
    }
  });
});
