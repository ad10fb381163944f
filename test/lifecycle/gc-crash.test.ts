// GC interrupted by kill -9, on a real mirror process: it is killed while it removes many objects (manifests of
// purged repositories and their blobs, unreferenced blobs). After a restart on the same data directory the index
// and the store agree — everything the index names is on storage, every tag's manifest is stored — the image that
// was never garbage pulls intact without going upstream, and a following GC cleans whatever the kill left.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { AdminClient } from "../../src/cli/admin-client.js";
import type { GcReport } from "../../src/lifecycle/gc.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { addImage, getBlob, type HubImage, indexedDigests, layer, pull, sql } from "../fakes/lifecycle.js";
import { verifiedStore } from "../fixtures/verify-store.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";

const LOOSE_BLOBS = 1500;
const GONE_IMAGES = 40;

/** Rows naming what is not stored: tags of missing manifests, manifest records without content. */
function danglingRows(data: string): string[] {
  const db = new Database(`${data}/hubmirror.db`, { readonly: true });
  try {
    const tags = db
      .prepare(
        "SELECT repo, tag FROM tags t WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = t.digest)",
      )
      .all() as { repo: string; tag: string }[];
    return tags.map((t) => `tag ${t.repo}:${t.tag}`);
  } finally {
    db.close();
  }
}

describe("GC killed with SIGKILL mid-way", { timeout: 180_000 }, () => {
  let hub: FakeHub;
  let mirror: TempMirrorProcess;
  let live: HubImage;
  before(async () => {
    hub = await new FakeHub().start();
    mirror = await startMirrorProcess(hub.url, { cache: { gc: { interval: 0, grace: 0 } } });
  });
  after(async () => {
    await mirror?.stop();
    await hub?.stop();
  });

  it("leaves the index and the store consistent, and the next GC cleans the rest", async () => {
    const m = mirror.process;
    const shared = layer(256 << 10);
    live = addImage(hub, "acme/live", "v1", [shared, layer()]);
    await pull(m.url, live);
    for (let i = 0; i < GONE_IMAGES; i++)
      await pull(m.url, addImage(hub, `acme/gone-${i}`, "v1", [shared, layer(4096)]));
    for (let i = 0; i < LOOSE_BLOBS; i++) await getBlob(m.url, "acme/junk", hub.addBlob(randomBytes(1024)));
    await m.settled();
    // The acme/gone-* repositories were purged while their content was in use: what a purge leaves for GC.
    sql(mirror.data, "DELETE FROM blob_links WHERE repo LIKE 'acme/gone-%'");
    sql(mirror.data, "DELETE FROM tags WHERE repo LIKE 'acme/gone-%'");
    const before = indexedDigests(mirror.data).size;

    let killed = false;
    await new AdminClient({ server: m.url })
      .stream("POST", "/admin/gc", { dryRun: false }, (e) => {
        if (e.type !== "phase" || e.phase !== "removing") return;
        // Let it remove some first: the kill must land in the middle of the removals.
        void sleep(150).then(() => {
          m.kill();
          killed = true;
        });
      })
      .catch(() => {});
    await m.stopped();
    assert.ok(killed, "the GC was killed, not finished");

    await m.start();
    const indexed = indexedDigests(mirror.data);
    const removed = before - indexed.size;
    assert.ok(removed > 0 && indexed.size > 3, `killed mid-way (${removed} of ${before} removed)`);
    const files = await verifiedStore(mirror.data);
    const missing = [...indexed].filter((d) => !files.has(d));
    assert.deepEqual(missing, [], "everything the index names is on storage");
    assert.deepEqual(danglingRows(mirror.data), [], "every tag's manifest is stored");

    const requests = hub.requests.length;
    await pull(m.url, live);
    assert.equal(hub.requests.length, requests, "the live image pulls from the cache alone");

    const report = (await new AdminClient({ server: m.url }).stream(
      "POST",
      "/admin/gc",
      { dryRun: false },
      () => {},
    )) as unknown as GcReport;
    const leftover = [...files].filter((d) => !indexed.has(d));
    for (const d of leftover)
      assert.ok(
        report.items.some((i) => i.kind === "orphan-file" && i.digest === d),
        `${d} left by the kill freed`,
      );
    const after = await verifiedStore(mirror.data);
    assert.deepEqual(
      [...after].sort(),
      [...indexedDigests(mirror.data)].sort(),
      "the store holds what the index names",
    );
    assert.deepEqual(
      [...after].sort(),
      [live.manifest, ...live.blobs].sort(),
      "only the live image is left, all garbage is gone",
    );
    await pull(m.url, live);
    assert.equal(hub.requests.length, requests, "and it still pulls from the cache alone");
  });
});
