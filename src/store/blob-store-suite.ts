import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SqliteStore } from "../metadata/sqlite-store.js";
import type { BlobRecord } from "../metadata/store.js";
import type { Digest } from "../reference/reference.js";
import { BaseDriver } from "../storage/base-driver.js";
import type { StorageDriver } from "../storage/driver.js";
import { BlobVanishedError, LocalBlobStore } from "./blob-store.js";
import { blobPath } from "./layout.js";

const digestOf = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}` as Digest;

/** Collects what a send writes; `begun` tells whether headers would have gone out. */
function collector(start: number, length: number) {
  const chunks: Buffer[] = [];
  const out = {
    begun: false,
    body: () => Buffer.concat(chunks),
    request: {
      start,
      length,
      begin: () => {
        out.begun = true;
      },
      sink: async (c: Buffer) => {
        chunks.push(Buffer.from(c));
      },
    },
  };
  return out;
}

/** A driver that redirects to `base` + path, standing in for a CDN or presigned-URL wrapper. */
function redirecting(driver: StorageDriver, base: string): StorageDriver {
  return Object.create(driver, {
    redirectURL: { value: async (p: string) => new URL(p.slice(1), base).href },
  });
}

/** The suite the local blob store passes on every storage driver; each driver's file supplies a factory. */
export function runBlobStoreSuite(name: string, create: () => Promise<StorageDriver>): void {
  describe(`local blob store suite: ${name}`, () => {
    const fresh = async (tiered = false) => {
      const driver = new BaseDriver(await create());
      const offload = tiered
        ? redirecting(new BaseDriver(await create()), "https://cdn.example/")
        : undefined;
      const index = new SqliteStore(join(await mkdtemp(join(tmpdir(), "hubmirror-idx-")), "meta.db"));
      let stats = 0;
      const counted: StorageDriver = Object.create(driver, {
        stat: {
          value: (p: string) => {
            stats++;
            return driver.stat(p);
          },
        },
      });
      const committed: Digest[] = [];
      const store = new LocalBlobStore({
        primary: counted,
        index,
        offload,
        onCommit: (d) => committed.push(d),
      });
      return { driver, offload, index, store, committed, stats: () => stats };
    };

    it("stores content and answers lookups from its index, not the driver", async () => {
      const { store, stats } = await fresh();
      const body = randomBytes(1000);
      const d = digestOf(body);
      assert.equal(await store.stat(d), undefined);
      await store.put(d, body);
      assert.equal((await store.stat(d))?.size, 1000);
      assert.equal((await store.stat(d))?.location, "local");
      assert.ok((await store.get(d)).equals(body));
      assert.equal(stats(), 0, "no driver stat on a lookup");
    });

    it("streams a range of stored content", async () => {
      const { store } = await fresh();
      const body = randomBytes(3 << 20);
      const d = digestOf(body);
      await store.put(d, body);
      const whole = collector(0, body.length);
      await store.send(d, whole.request);
      assert.ok(whole.begun);
      assert.ok(whole.body().equals(body));
      const part = collector(1 << 20, 1000);
      await store.send(d, part.request);
      assert.ok(part.body().equals(body.subarray(1 << 20, (1 << 20) + 1000)));
    });

    it("indexes written content only on commit, and nothing on cancel", async () => {
      const { store } = await fresh();
      const body = randomBytes(5000);
      const d = digestOf(body);
      const cancelled = await store.writer(d);
      await cancelled.write(body);
      await cancelled.cancel();
      assert.equal(await store.stat(d), undefined);
      assert.equal(await store.recover(d), undefined, "nothing reached the driver either");
      const w = await store.writer(d);
      await w.write([body.subarray(0, 10), body.subarray(10)]);
      assert.equal(await store.stat(d), undefined, "not before commit");
      await w.commit();
      assert.equal((await store.stat(d))?.size, 5000);
      assert.ok((await store.get(d)).equals(body));
    });

    it("turns content deleted behind its back into a clean miss", async () => {
      const { driver, store } = await fresh();
      const body = randomBytes(2000);
      const d = digestOf(body);
      await store.put(d, body);
      await driver.delete(blobPath(d));
      const c = collector(0, body.length);
      await assert.rejects(store.send(d, c.request), BlobVanishedError);
      assert.equal(c.begun, false, "the client saw nothing yet");
      assert.equal(await store.stat(d), undefined, "the index forgot it");
      await store.put(d, body);
      await driver.delete(blobPath(d));
      await assert.rejects(store.get(d), BlobVanishedError);
      assert.equal(await store.stat(d), undefined);
    });

    it("deletes content from the index and the driver", async () => {
      const { driver, store } = await fresh();
      const body = randomBytes(100);
      const d = digestOf(body);
      await store.put(d, body);
      await store.delete(d);
      assert.equal(await store.stat(d), undefined);
      assert.equal(await driver.stat(blobPath(d)), undefined);
      await store.delete(d);
    });

    it("recovers committed content the index lacks", async () => {
      const { driver, store } = await fresh();
      const body = randomBytes(300);
      const d = digestOf(body);
      await driver.putContent(blobPath(d), body);
      assert.equal(await store.stat(d), undefined);
      assert.equal((await store.recover(d))?.size, 300);
      assert.equal((await store.stat(d))?.size, 300);
    });

    it("records use and has no redirect for a plain driver", async () => {
      const { store } = await fresh();
      const body = randomBytes(10);
      const d = digestOf(body);
      await store.put(d, body);
      const first = (await store.stat(d))?.lastAccess ?? 0;
      await new Promise((ok) => setTimeout(ok, 5));
      store.touch(d);
      const rec = await store.stat(d);
      assert.ok((rec?.lastAccess ?? 0) > first);
      assert.equal(rec?.requests, 1);
      assert.equal(await store.redirectURL(rec as BlobRecord), undefined);
    });

    it("copies a blob to the offload target, then redirects there while it is there", async () => {
      const { offload, store, committed } = await fresh(true);
      const body = randomBytes(3 << 20);
      const d = digestOf(body);
      const w = await store.writer(d);
      await w.write(body);
      await w.commit();
      assert.deepEqual(committed, [d], "the commit is announced");
      assert.equal(
        await store.redirectURL((await store.stat(d)) as BlobRecord),
        undefined,
        "not offloaded yet",
      );
      await store.copyToOffload(d);
      const rec = (await store.stat(d)) as BlobRecord;
      assert.equal(rec.location, "offloaded");
      assert.ok((await offload?.getContent(blobPath(d)))?.equals(body));
      assert.equal(await store.redirectURL(rec), `https://cdn.example${blobPath(d)}`);
      const c = collector(0, body.length);
      await store.send(d, c.request);
      assert.ok(c.body().equals(body), "the primary copy still serves clients kept here");
      await store.delete(d);
      assert.equal(await offload?.stat(blobPath(d)), undefined, "delete removes every tier");
    });

    it("serves the primary copy when the offloaded one vanished", async () => {
      const { offload, store } = await fresh(true);
      const body = randomBytes(1000);
      const d = digestOf(body);
      const w = await store.writer(d);
      await w.write(body);
      await w.commit();
      await store.copyToOffload(d);
      await offload?.delete(blobPath(d));
      assert.equal(await store.redirectURL((await store.stat(d)) as BlobRecord), undefined);
      assert.equal((await store.stat(d))?.location, "local", "to be copied again");
    });
  });
}
