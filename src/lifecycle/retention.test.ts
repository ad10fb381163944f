// Retention against a real store behind an in-process mirror and a FakeHub: pull times and access times are set in
// the database (two hours ago is past a one-hour limit), then POST /admin/retention applies it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  addImage,
  adminPost,
  type FakeImage,
  pull,
  setLastAccess,
  setLastPull,
  storedOf,
} from "../../test/fakes/cache-kit.js";
import { FakeHub } from "../../test/fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../../test/fakes/mirror.js";
import { sha256Digest } from "../../test/helpers.js";
import type { Digest } from "../reference/reference.js";
import type { RetentionResult } from "./retention.js";

const HOUR = 3_600_000;

let hub: FakeHub;
before(async () => {
  hub = await new FakeHub().start();
});
after(() => hub.stop());

const tagOf = (m: InProcessMirror, img: FakeImage, tag = img.tag) =>
  m.meta.getTag({ registry: "docker.io", repo: img.repo }, tag);

describe("retention", () => {
  let m: InProcessMirror;
  before(async () => {
    m = await startInProcessMirror(hub.url, { cache: { retention: { tags: "1h", content: "1h" } } });
  });
  after(() => m.stop());

  it("drops tags and content past their limits, and keeps recent, digest-pulled and pinned images", async () => {
    const base = randomBytes(20_000);
    const baseDigest = sha256Digest(base) as Digest;
    const old = addImage(hub, "acme/old", [randomBytes(20_000)]);
    const freshLayer = randomBytes(20_000);
    const fresh = addImage(hub, "acme/fresh", [freshLayer]);
    const freshV1 = addImage(hub, "acme/fresh", [freshLayer], "v1");
    assert.equal(freshV1.manifest, fresh.manifest, "two tags of one manifest");
    const oldByDigest = addImage(hub, "acme/old-by-digest", [randomBytes(20_000)]);
    // Pulled by digest lately; the client already had its base layer, last fetched long ago.
    const freshByDigest = addImage(hub, "acme/fresh-by-digest", [base, randomBytes(20_000)]);
    const pinned = addImage(hub, "acme/pinned", [randomBytes(20_000)]);
    for (const img of [old, fresh, freshV1, pinned]) await pull(m, img);
    for (const img of [oldByDigest, freshByDigest]) await pull(m, img, true);
    await m.lifecycle.pin(`${pinned.repo}:latest`);

    const longAgo = Date.now() - 2 * HOUR;
    for (const img of [old, oldByDigest, pinned]) await setLastAccess(m, img.content, longAgo);
    await setLastAccess(m, [baseDigest], longAgo);
    for (const img of [old, pinned]) await setLastPull(m, img.repo, img.tag, longAgo);
    await setLastPull(m, fresh.repo, "v1", longAgo);

    const result = await adminPost<RetentionResult>(m, "/admin/retention");

    assert.equal(result.tagsRemoved, 2, "old:latest and fresh:v1");
    assert.equal(await tagOf(m, old), undefined);
    assert.equal(await tagOf(m, fresh, "v1"), undefined);
    assert.ok(await tagOf(m, fresh), "fresh:latest was pulled lately");
    assert.ok(await tagOf(m, pinned), "a pinned tag stays however old");
    for (const gone of [old, oldByDigest])
      assert.deepEqual(await storedOf(m, gone.content), [], `${gone.repo}: its content expired`);
    for (const kept of [fresh, freshByDigest, pinned])
      assert.deepEqual(await storedOf(m, kept.content), kept.content, `${kept.repo} is intact`);
    assert.equal(result.removed, old.content.length + oldByDigest.content.length);
    assert.equal(result.tags, HOUR);
    assert.equal(result.content, HOUR);
    assert.equal(
      await m.metrics.value("hubmirror_cache_removals_total", { reason: "retention", kind: "tag" }),
      2,
    );
    assert.equal(
      await m.metrics.value("hubmirror_cache_removals_total", { reason: "retention" }),
      2 + result.removed,
    );

    // Gone from the cache, not from the world: the next pull fetches it again.
    const layer = old.layers[0] as Digest;
    await pull(m, old);
    assert.equal(hub.count("GET", new RegExp(`/cdn/${layer}`)), 2);
    assert.deepEqual(await storedOf(m, old.content), old.content);
  });
});

describe("retention, not configured", () => {
  it("is off by default: nothing is dropped however old", async () => {
    const m = await startInProcessMirror(hub.url);
    try {
      const img = addImage(hub, "acme/ancient", [randomBytes(10_000)]);
      await pull(m, img);
      await setLastAccess(m, img.content, 1);
      await setLastPull(m, img.repo, img.tag, 1);
      const result = await adminPost<RetentionResult>(m, "/admin/retention");
      assert.deepEqual(result, {
        tagsRemoved: 0,
        removed: 0,
        freedBytes: 0,
        skipped: 0,
        tags: null,
        content: null,
      });
      assert.deepEqual(await storedOf(m, img.content), img.content);
      assert.ok(await tagOf(m, img));
    } finally {
      await m.stop();
    }
  });
});
