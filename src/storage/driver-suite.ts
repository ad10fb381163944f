import assert from "node:assert/strict";
import { text } from "node:stream/consumers";
import { describe, it } from "node:test";
import { BaseDriver } from "./base-driver.js";
import { InvalidPathError, PathNotFoundError, type StorageDriver } from "./driver.js";

/** The suite every storage driver must pass; each driver's test file only supplies a factory. */
export function runDriverSuite(name: string, create: () => Promise<StorageDriver>): void {
  describe(`storage driver suite: ${name}`, () => {
    const fresh = async () => new BaseDriver(await create());

    it("stats nothing at a missing path", async () => {
      const d = await fresh();
      assert.equal(await d.stat("/a/b"), undefined);
      await assert.rejects(d.getContent("/a/b"), PathNotFoundError);
      await assert.rejects(d.reader("/a/b"), PathNotFoundError);
    });

    it("puts and gets content, stat reports size and directories", async () => {
      const d = await fresh();
      await d.putContent("/dir/sub/file", Buffer.from("hello"));
      assert.equal((await d.getContent("/dir/sub/file")).toString(), "hello");
      const st = await d.stat("/dir/sub/file");
      assert.equal(st?.size, 5);
      assert.equal(st?.isDir, false);
      assert.equal((await d.stat("/dir/sub"))?.isDir, true);
    });

    it("overwrites content atomically", async () => {
      const d = await fresh();
      await d.putContent("/f", Buffer.from("one"));
      await d.putContent("/f", Buffer.from("second"));
      assert.equal((await d.getContent("/f")).toString(), "second");
    });

    it("reads from an offset and for a length", async () => {
      const d = await fresh();
      await d.putContent("/r", Buffer.from("0123456789"));
      assert.equal(await text(await d.reader("/r", 3)), "3456789");
      assert.equal(await text(await d.reader("/r", 2, 4)), "2345");
      assert.equal(await text(await d.reader("/r", 0, 0)), "");
      assert.equal(await text(await d.reader("/r", 10)), "");
    });

    it("streams a large file in pieces and back", async () => {
      const d = await fresh();
      const w = await d.writer("/big/data");
      const piece = Buffer.alloc(1 << 20);
      for (let i = 0; i < 5; i++) {
        piece.fill(i);
        await w.write(piece);
      }
      assert.equal(w.size, 5 << 20);
      await w.commit();
      let total = 0;
      let last = -1;
      for await (const chunk of await d.reader("/big/data", 3 << 20)) {
        total += chunk.length;
        last = chunk[chunk.length - 1];
      }
      assert.equal(total, 2 << 20);
      assert.equal(last, 4);
    });

    it("writes several buffers as one, in order", async () => {
      const d = await fresh();
      const w = await d.writer("/v");
      await w.write([Buffer.from("ab"), Buffer.from("cd")]);
      await w.write(Buffer.from("e"));
      await w.write([]);
      assert.equal(w.size, 5);
      await w.commit();
      assert.equal((await d.getContent("/v")).toString(), "abcde");
    });

    it("hides a writer's bytes until commit and drops them on cancel", async () => {
      const d = await fresh();
      const w = await d.writer("/w");
      await w.write(Buffer.from("partial"));
      assert.equal(await d.stat("/w"), undefined);
      await w.cancel();
      assert.equal(await d.stat("/w"), undefined);
      const w2 = await d.writer("/w");
      await w2.write(Buffer.from("whole"));
      await w2.commit();
      assert.equal((await d.getContent("/w")).toString(), "whole");
    });

    it("exposes a local path that holds the bytes written so far, if any", async () => {
      const d = await fresh();
      const w = await d.writer("/lp");
      await w.write(Buffer.from("abc"));
      if (w.localPath) {
        const { readFile } = await import("node:fs/promises");
        assert.equal((await readFile(w.localPath)).toString(), "abc");
      }
      await w.cancel();
    });

    it("moves, lists and deletes", async () => {
      const d = await fresh();
      await d.putContent("/m/a", Buffer.from("a"));
      await d.putContent("/m/b/c", Buffer.from("c"));
      assert.deepEqual(await d.list("/m"), ["/m/a", "/m/b"]);
      await d.move("/m/a", "/n/a");
      assert.equal(await d.stat("/m/a"), undefined);
      assert.equal((await d.getContent("/n/a")).toString(), "a");
      await assert.rejects(d.move("/m/missing", "/x"), PathNotFoundError);
      await d.delete("/m");
      assert.equal(await d.stat("/m/b/c"), undefined);
      await assert.rejects(d.delete("/m"), PathNotFoundError);
      await assert.rejects(d.list("/nothing"), PathNotFoundError);
    });

    it("rejects invalid paths, naming the driver", async () => {
      const d = await fresh();
      for (const bad of ["", "relative", "/a/../b", "/a//b", "/_uploads/x", "/a/", "/a b"]) {
        await assert.rejects(d.stat(bad), (err: unknown) => {
          assert.ok(err instanceof InvalidPathError, bad);
          assert.match(err.message, new RegExp(d.name));
          return true;
        });
      }
    });

    it("has no redirect unless configured", async () => {
      const d = await fresh();
      await d.putContent("/x", Buffer.from("x"));
      assert.equal(await d.redirectURL("/x"), undefined);
    });
  });
}
