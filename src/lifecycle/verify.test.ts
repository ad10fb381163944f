// The Verifier over real stores (SQLite index, LocalBlobStore) on both kinds of driver: the filesystem driver,
// read through its local files, and the memory driver, read as streams. "Upstream" here is a map of good copies
// the repair's refetch stores from; repair through the real proxy stores is in test/mirror/verify.test.ts and,
// with a real registry and skopeo, test/e2e/verify.test.ts.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pino } from "pino";
import { SqliteStore } from "../metadata/sqlite-store.js";
import type { RepoKey } from "../metadata/store.js";
import { Metrics } from "../metrics/metrics.js";
import type { Digest } from "../reference/reference.js";
import type { StorageDriver } from "../storage/driver.js";
import { createFsDriver } from "../storage/fs-driver.js";
import { MemoryDriver } from "../storage/memory-driver.js";
import { LocalBlobStore } from "../store/blob-store.js";
import { blobPath } from "../store/layout.js";
import { InUse } from "./in-use.js";
import { ContentRemover } from "./remover.js";
import { type Refetch, Repairer } from "./repair.js";
import { Verifier, type VerifyEvent } from "./verify.js";

const digestOf = (b: Buffer): Digest => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const REPO: RepoKey = { registry: "docker.io", repo: "library/app" };
const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

async function setup(driver: StorageDriver) {
  const dir = await mkdtemp(join(tmpdir(), "hubmirror-verify-"));
  const meta = new SqliteStore(join(dir, "hubmirror.db"));
  const store = new LocalBlobStore({ primary: driver, index: meta });
  const inUse = new InUse();
  const metrics = new Metrics();
  const log = pino({ level: "silent" });
  const remover = new ContentRemover({ store, meta, inUse, metrics, log });
  /** What upstream holds, by digest: the refetch stores these, as a pull would. */
  const upstream = new Map<Digest, { body: Buffer; kind: "blob" | "manifest" }>();
  const fetched: Digest[] = [];
  const refetch: Refetch = async (rec) => {
    fetched.push(rec.digest);
    const copy = upstream.get(rec.digest);
    if (!copy) throw new Error(`upstream: ${rec.digest} unknown`);
    await put(copy.body, copy.kind);
  };
  const put = async (body: Buffer, kind: "blob" | "manifest") => {
    const digest = digestOf(body);
    if (kind === "manifest") return store.put(digest, body);
    const w = await store.writer(digest);
    await w.write(body);
    await w.commit();
  };
  const verifier = new Verifier({
    store,
    meta,
    repairer: new Repairer({ store, meta, inUse, remover, refetch }),
    metrics,
    log,
  });
  return {
    meta,
    store,
    inUse,
    metrics,
    verifier,
    fetched,
    /** Stores content upstream also has (unless `upstreamHasIt` is false), linked to REPO (unless `linked` is false). */
    async add(
      body: Buffer,
      kind: "blob" | "manifest" = "blob",
      opts: { upstream?: boolean; linked?: boolean } = {},
    ) {
      const digest = digestOf(body);
      await put(body, kind);
      if (kind === "manifest") {
        await meta.putManifest({ digest, mediaType: MANIFEST_TYPE, size: body.length });
        await meta.putTag(REPO, "latest", digest, Date.now());
      }
      if (opts.linked !== false) await meta.link(REPO, [digest]);
      if (opts.upstream !== false) upstream.set(digest, { body, kind });
      return digest;
    },
    /** Replaces stored bytes behind the index's back. */
    overwrite: (digest: Digest, body: Buffer) => driver.putContent(blobPath(digest), body),
    remove: (digest: Digest) => driver.delete(blobPath(digest)),
    async close() {
      await meta.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function flipped(body: Buffer, at: number): Buffer {
  const copy = Buffer.from(body);
  copy[at] = (copy[at] as number) ^ 0xff;
  return copy;
}

function runVerifierSuite(name: string, driver: () => Promise<StorageDriver>): void {
  describe(`verify on the ${name} driver`, () => {
    const envs: Awaited<ReturnType<typeof setup>>[] = [];
    const start = async () => {
      const env = await setup(await driver());
      envs.push(env);
      return env;
    };
    after(async () => {
      for (const env of envs) await env.close();
    });

    it("finds flipped, short and missing objects, and changes nothing without --repair", async () => {
      const t = await start();
      const bodies = [
        randomBytes(3 << 20),
        randomBytes(70_000),
        randomBytes(5000),
        randomBytes(1234),
        randomBytes(99),
      ];
      const [flip, short, gone, good, misindexed] = await Promise.all(bodies.map((b) => t.add(b)));
      const manifest = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, layers: [] }),
      );
      const m = await t.add(manifest, "manifest");
      await t.overwrite(flip as Digest, flipped(bodies[0] as Buffer, 2 << 20));
      await t.overwrite(short as Digest, (bodies[1] as Buffer).subarray(1));
      await t.remove(gone as Digest);
      await t.overwrite(m, flipped(manifest, 5));
      // Good bytes, but the index has the size wrong: the index is what a HEAD answers from.
      await t.meta.putBlob(misindexed as Digest, 100, "blob");

      const events: VerifyEvent[] = [];
      const report = await t.verifier.run({ onEvent: (e) => events.push(e) });
      assert.equal(report.objects, 6);
      assert.equal(report.ok, 1);
      assert.deepEqual(new Set(report.corrupt), new Set([flip, short, m, misindexed]));
      assert.deepEqual(report.missing, [gone]);
      assert.deepEqual(new Set(report.unrepaired), new Set([flip, short, m, gone, misindexed]));
      assert.deepEqual(report.repaired, []);
      const stored = bodies.reduce((n, b) => n + b.length, manifest.length);
      assert.equal(report.bytes, stored - 1 - (bodies[2] as Buffer).length, "every stored byte read once");
      const total = stored + 1; // the index's sizes

      const bad = events.filter((e) => e.type === "object");
      assert.equal(bad.length, 5);
      assert.deepEqual(bad.find((e) => e.digest === misindexed)?.found, { digest: misindexed, size: 99 });
      const shortEvent = bad.find((e) => e.digest === short);
      assert.equal(shortEvent?.result, "corrupt");
      assert.deepEqual(shortEvent?.found, {
        digest: digestOf((bodies[1] as Buffer).subarray(1)),
        size: 69_999,
      });
      assert.equal(bad.find((e) => e.digest === gone)?.result, "missing");
      assert.ok(bad.every((e) => e.repair === undefined));
      const last = events.filter((e) => e.type === "progress").at(-1);
      assert.deepEqual(
        last && { ...last, bytesPerSecond: 0 },
        { type: "progress", objects: 6, totalObjects: 6, bytes: total, totalBytes: total, bytesPerSecond: 0 },
        "the last progress event reaches the totals",
      );

      for (const d of [flip, short, gone, good, m])
        assert.ok(await t.store.stat(d as Digest), "index untouched");
      assert.equal((await t.meta.getTag(REPO, "latest"))?.digest, m);
      assert.deepEqual(t.fetched, []);
      assert.equal(await t.metrics.value("hubmirror_verify_objects_total", { result: "ok" }), 1);
      assert.equal(await t.metrics.value("hubmirror_verify_objects_total", { result: "corrupt" }), 4);
      assert.equal(await t.metrics.value("hubmirror_verify_objects_total", { result: "missing" }), 1);
    });

    it("repairs what upstream still has, leaves content in use, and says why the rest failed", async () => {
      const t = await start();
      const bodies = Array.from({ length: 5 }, () => randomBytes(100_000));
      const [flip, gone, busy, lost, orphan] = [
        await t.add(bodies[0] as Buffer),
        await t.add(bodies[1] as Buffer),
        await t.add(bodies[2] as Buffer),
        await t.add(bodies[3] as Buffer, "blob", { upstream: false }),
        await t.add(bodies[4] as Buffer, "blob", { linked: false }),
      ];
      const manifest = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_TYPE, layers: [] }),
      );
      const m = await t.add(manifest, "manifest");
      for (const [d, b] of [
        [flip, bodies[0]],
        [busy, bodies[2]],
        [lost, bodies[3]],
        [orphan, bodies[4]],
        [m, manifest],
      ] as const)
        await t.overwrite(d, flipped(b as Buffer, 7));
      await t.remove(gone);
      const release = t.inUse.acquire(busy);

      const events: VerifyEvent[] = [];
      const report = await t.verifier.run({ repair: true, onEvent: (e) => events.push(e) });
      assert.deepEqual(new Set(report.repaired), new Set([flip, gone, m]));
      assert.deepEqual(new Set(report.unrepaired), new Set([busy, lost, orphan]));
      const outcome = (d: Digest) =>
        events.find((e) => e.type === "object" && e.digest === d) as Record<string, unknown> | undefined;
      assert.deepEqual(outcome(flip), {
        type: "object",
        digest: flip,
        kind: "blob",
        size: 100_000,
        result: "corrupt",
        found: { digest: digestOf(flipped(bodies[0] as Buffer, 7)), size: 100_000 },
        repair: "repaired",
        from: "docker.io/library/app",
      });
      assert.equal(outcome(busy)?.repair, "in-use");
      assert.match(String(outcome(lost)?.error), /docker\.io\/library\/app: upstream: sha256:\w+ unknown/);
      assert.match(String(outcome(orphan)?.error), /no repository links it/);
      assert.deepEqual(
        new Set(t.fetched),
        new Set([flip, gone, m, lost]),
        "one fetch per bad object it could ask for",
      );

      for (const d of [flip, gone, m])
        assert.deepEqual(await t.store.hash(d), { digest: d, size: (await t.store.stat(d))?.size });
      assert.equal(
        await t.meta.getTag(REPO, "latest"),
        undefined,
        "the repaired manifest's tag is fetched again on the next pull",
      );
      assert.ok(await t.store.stat(busy), "content in use stays");
      assert.equal(
        await t.store.stat(lost),
        undefined,
        "bad bytes are removed even when upstream can't replace them",
      );
      assert.equal(await t.store.stat(orphan), undefined);
      assert.equal(await t.metrics.value("hubmirror_verify_objects_total", { result: "repaired" }), 3);
      assert.equal(await t.metrics.value("hubmirror_cache_removals_total", { reason: "repair" }), 5);

      release();
      const again = await t.verifier.run({ repair: true });
      assert.deepEqual(again.corrupt, [busy], "only what was in use is still bad");
      assert.deepEqual(again.repaired, [busy]);
      const clean = await t.verifier.run();
      assert.equal(clean.ok, clean.objects);
      assert.equal(clean.objects, 4);
    });

    it("stops when the caller goes away", async () => {
      const t = await start();
      const digests = [await t.add(randomBytes(1000)), await t.add(randomBytes(1000))].sort();
      await t.overwrite(digests[0] as Digest, randomBytes(1000));
      const aborter = new AbortController();
      await assert.rejects(
        t.verifier.run({ signal: aborter.signal, onEvent: (e) => e.type === "object" && aborter.abort() }),
        { name: "AbortError" },
      );
      assert.equal(await t.metrics.value("hubmirror_verify_objects_total", { result: "ok" }), 0);
    });
  });
}

runVerifierSuite("filesystem", async () =>
  createFsDriver(await mkdtemp(join(tmpdir(), "hubmirror-verify-fs-"))),
);
runVerifierSuite("memory", async () => new MemoryDriver());
