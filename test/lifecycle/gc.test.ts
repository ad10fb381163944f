// Garbage collection on an in-process mirror in front of the FakeHub: a dry run changes nothing and the real run
// frees exactly what it listed; every kind of garbage is found (content of purged repositories, unreferenced
// blobs, orphan files, abandoned temp files, stale rows), and nothing in use, pinned, young or still referenced
// is touched. The CLI against a real mirror process is in test/e2e/gc-purge.test.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { AdminClient } from "../../src/cli/admin-client.js";
import type { GcReport } from "../../src/lifecycle/gc.js";
import type { GcItem } from "../../src/lifecycle/gc-steps.js";
import type { Digest } from "../../src/reference/reference.js";
import { tempName } from "../../src/storage/temp-files.js";
import { blobPath } from "../../src/store/layout.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { addImage, fileTree, getBlob, indexRows, layer, pull, sql } from "../fakes/lifecycle.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { eventually, sha256Digest, streamDigest } from "../helpers.js";

const KEY = (repo: string) => ({ registry: "docker.io", repo });
const HOURS_AGO = (h: number) => new Date(Date.now() - h * 3600_000);

/** A comparable name for a GC item. */
const id = (i: GcItem) => `${i.kind} ${i.tag ?? i.path ?? i.digest}`;

async function gc(mirror: InProcessMirror, dryRun: boolean): Promise<GcReport> {
  const done = await new AdminClient({ server: mirror.url }).stream(
    "POST",
    "/admin/gc",
    { dryRun },
    () => {},
  );
  return done as unknown as GcReport;
}

/** Makes stored content look unused for two hours (older than the default 1 h grace). */
async function backdate(mirror: InProcessMirror, digests: readonly string[]): Promise<void> {
  await mirror.meta.flush();
  for (const d of digests)
    sql(mirror.data, "UPDATE blobs SET last_access = ? WHERE digest = ?", +HOURS_AGO(2), d);
}

/** Writes a content file at its layout path behind the index's back (a crash between commit and index write). */
async function orphan(mirror: InProcessMirror, age: Date | undefined): Promise<string> {
  const content = randomBytes(3000);
  const digest = sha256Digest(content) as Digest;
  const file = join(mirror.data, "storage", blobPath(digest));
  await mkdir(join(file, ".."), { recursive: true });
  await writeFile(file, content);
  if (age) await utimes(file, age, age);
  return blobPath(digest);
}

/** A temp file named for process `pid` of this host (see temp-files.ts), optionally aged. */
async function tempFile(dir: string, name: string, age?: Date): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, randomBytes(500));
  if (age) await utimes(path, age, age);
  return path;
}
const namedFor = (pid: number) => tempName().replace(`-${process.pid}-`, `-${pid}-`);

describe("garbage collection", () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  before(async () => {
    hub = await new FakeHub().start();
    mirror = await startInProcessMirror(hub.url, { cache: { gc: { interval: 0 } } });
  });
  after(async () => {
    await mirror?.stop();
    await hub?.stop();
  });

  it("a dry run changes nothing, and the real run frees exactly what it listed", async () => {
    const base = layer();
    const live = addImage(hub, "acme/live", "v1", [base, layer()]);
    const gone = addImage(hub, "acme/gone", "v1", [base, layer()]);
    const old = addImage(hub, "acme/old", "v1", [layer()]);
    for (const img of [live, gone, old]) await pull(mirror.url, img);
    const loose = hub.addBlob(randomBytes(7000));
    const fresh = hub.addBlob(randomBytes(7000));
    for (const d of [loose, fresh]) await getBlob(mirror.url, "acme/loose", d);
    await mirror.settled();
    // acme/gone was purged but its content stayed (it was in use then); acme/old's manifest was stored by an
    // earlier version that recorded no references: its blobs must not look unreferenced.
    await mirror.meta.deleteRepository(KEY("acme/gone"));
    sql(mirror.data, "DELETE FROM manifest_refs WHERE parent = ?", old.manifest);
    await backdate(mirror, [...gone.blobs, gone.manifest, ...old.blobs, old.manifest, loose, ...live.blobs]);
    const oldOrphan = await orphan(mirror, HOURS_AGO(2));
    const youngOrphan = await orphan(mirror, undefined);
    const uploads = join(mirror.data, "storage", "_uploads");
    const spool = join(mirror.data, "spool");
    const deadPid = spawnSync("true").pid as number;
    const dead = await tempFile(uploads, namedFor(deadPid));
    const idle = await tempFile(uploads, `otherhost-${process.ppid}-${randomUUID()}`, HOURS_AGO(2));
    const liveWriter = await tempFile(uploads, namedFor(process.ppid));
    const deadSpool = await tempFile(spool, namedFor(deadPid));
    const missing = sha256Digest("a manifest that is not stored") as Digest;
    await mirror.meta.putTag(KEY("acme/ghost"), "v1", missing, Date.now());
    const recordOnly = sha256Digest("a manifest record without content") as Digest;
    await mirror.meta.putManifest({ digest: recordOnly, mediaType: "application/json", size: 10 });
    await mirror.meta.flush();

    const filesBefore = await fileTree(mirror.data);
    const rowsBefore = indexRows(mirror.data);
    const dry = await gc(mirror, true);
    assert.deepEqual(await fileTree(mirror.data), filesBefore, "the dry run touched no file");
    assert.deepEqual(indexRows(mirror.data), rowsBefore, "the dry run changed no index row");

    const expected = [
      `unlinked ${gone.manifest}`,
      `unlinked ${gone.config}`,
      `unlinked ${gone.layers[1]}`,
      `unreferenced ${loose}`,
      `orphan-file ${oldOrphan}`,
      `temp-file ${dead}`,
      `temp-file ${idle}`,
      `temp-file ${deadSpool}`,
      "stale-tag docker.io/acme/ghost:v1",
      `stale-manifest ${recordOnly}`,
    ];
    assert.deepEqual(dry.items.map(id).sort(), expected.sort());
    assert.equal(dry.items[0]?.digest, gone.manifest, "a manifest goes before what it references");
    assert.equal(dry.backfilled, 1);
    assert.equal(
      dry.freedBytes,
      dry.items.reduce((n, i) => n + i.size, 0),
    );

    const real = await gc(mirror, false);
    assert.deepEqual(
      real.items.map(id).sort(),
      dry.items.map(id).sort(),
      "freed exactly what the dry run listed",
    );
    assert.deepEqual(real.skipped, []);
    assert.equal(real.freedBytes, dry.freedBytes);

    const storage = join(mirror.data, "storage");
    for (const d of [gone.manifest, gone.config, gone.layers[1] as string, loose])
      assert.ok(!existsSync(join(storage, blobPath(d as Digest))), `${d} removed from storage`);
    for (const path of [oldOrphan]) assert.ok(!existsSync(join(storage, path)));
    for (const path of [dead, idle, deadSpool]) assert.ok(!existsSync(path), `${path} removed`);
    for (const d of [base, ...live.blobs, live.manifest, ...old.blobs, old.manifest, fresh]) {
      const digest = typeof d === "string" ? d : sha256Digest(d);
      assert.ok(existsSync(join(storage, blobPath(digest as Digest))), `${digest} kept`);
    }
    assert.ok(existsSync(join(storage, youngOrphan)), "an orphan younger than the grace is kept");
    assert.ok(existsSync(liveWriter), "a live process's temp file is kept");
    assert.equal(await mirror.meta.getTag(KEY("acme/ghost"), "v1"), undefined);
    assert.equal(await mirror.meta.getManifest(recordOnly), undefined);
    assert.deepEqual(
      (await mirror.meta.manifestChildren(old.manifest as Digest)).sort(),
      [...old.blobs].sort(),
    );

    const requests = hub.requests.length;
    await pull(mirror.url, live);
    await pull(mirror.url, old);
    assert.equal(hub.requests.length, requests, "what GC kept serves from the cache");
    await pull(mirror.url, gone);
    assert.equal(hub.count("GET", new RegExp(`/cdn/${gone.layers[1]}`)), 2, "freed content is fetched again");
    assert.equal(hub.count("GET", new RegExp(`/cdn/${sha256Digest(base)}`)), 1, "the shared base never left");

    assert.equal(
      await mirror.metrics.value("hubmirror_gc_runs_total", { mode: "dry-run", trigger: "admin" }),
      1,
    );
    assert.equal(
      await mirror.metrics.value("hubmirror_gc_runs_total", { mode: "real", trigger: "admin" }),
      1,
    );
    assert.equal(
      await mirror.metrics.value("hubmirror_cache_removed_bytes_total", { reason: "gc" }),
      real.freedBytes,
    );
  });

  it("keeps a live writer's temp file, content being served, and pinned content", async () => {
    // Served: a client that does not read holds the response (and the blob) open.
    const served = hub.addBlob(randomBytes(32 << 20));
    await getBlob(mirror.url, "acme/served", served);
    // Pinned by digest (pulled by digest: no tag), its repository's links gone: without the pin all of it goes.
    const pinned = addImage(hub, "acme/pinned", "v1", [layer()]);
    await pull(mirror.url, { ...pinned, tag: pinned.manifest });
    await mirror.settled();
    const pin = `acme/pinned@${pinned.manifest}`;
    await mirror.lifecycle.pin(pin);
    sql(mirror.data, "DELETE FROM blob_links WHERE repo = ?", "acme/pinned");
    const reader = await request(`${mirror.url}/v2/acme/served/blobs/${served}`);
    // Old but for being served: only its use keeps it.
    await backdate(mirror, [served, pinned.manifest, ...pinned.blobs]);

    // Writing: a slow download's temp file in _uploads, written by this very process.
    const big = randomBytes(4 << 20);
    const writing = hub.addBlob(big);
    hub.throttle = 2 << 20;
    const download = request(`${mirror.url}/v2/acme/writing/blobs/${writing}`);
    const uploads = join(mirror.data, "storage", "_uploads");
    await eventually("a temp file", async () =>
      (await readdir(uploads)).some((n) => n.includes(`-${process.pid}-`)),
    );
    const [temp] = (await readdir(uploads)).filter((n) => n.includes(`-${process.pid}-`));

    try {
      const report = await gc(mirror, false);
      const names = report.items.map(id);
      assert.ok(!names.includes(`unreferenced ${served}`), "content being served is not collected");
      assert.ok(!names.some((n) => n.includes(temp as string)), "the live writer's temp file is kept");
      for (const d of [pinned.manifest, ...pinned.blobs])
        assert.ok(!names.includes(`unlinked ${d}`), "pinned content stays");
    } finally {
      hub.throttle = 0;
    }
    const got = await streamDigest((await download).body);
    assert.equal(got.digest, writing, "the download finished intact");
    assert.equal((await streamDigest(reader.body)).digest, served, "the served blob was sent whole");
    await mirror.settled();
    assert.ok(await mirror.meta.getBlob(writing as Digest), "and it was committed");
    await mirror.lifecycle.unpin(pin);
    const later = (await gc(mirror, true)).items.map(id);
    for (const d of [pinned.manifest, ...pinned.blobs])
      assert.ok(later.includes(`unlinked ${d}`), "once unpinned");
    assert.ok(later.includes(`unreferenced ${served}`), "once no longer served");
  });

  it("runs on its own every cache.gc.interval", async () => {
    const scheduled = await startInProcessMirror(hub.url, { cache: { gc: { interval: "100ms", grace: 0 } } });
    try {
      const d = hub.addBlob(randomBytes(1000));
      await getBlob(scheduled.url, "acme/sched", d);
      await scheduled.settled();
      await eventually(
        "a scheduled GC to free the blob",
        async () => !(await scheduled.meta.getBlob(d as Digest)),
      );
      assert.ok((await scheduled.metrics.value("hubmirror_gc_runs_total", { trigger: "schedule" })) >= 1);
    } finally {
      await scheduled.stop();
    }
  });
});
