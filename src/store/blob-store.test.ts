import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import type { RegistryError } from "../errors/oci-errors.js";
import { SqliteStore } from "../metadata/sqlite-store.js";
import type { Digest } from "../reference/reference.js";
import { createFsDriver } from "../storage/fs-driver.js";
import { MemoryDriver } from "../storage/memory-driver.js";
import { LocalBlobStore } from "./blob-store.js";
import { runBlobStoreSuite } from "./blob-store-suite.js";

runBlobStoreSuite("filesystem", async () => createFsDriver(await mkdtemp(join(tmpdir(), "hubmirror-fs-"))));
runBlobStoreSuite("inmemory", async () => new MemoryDriver());

it("turns a storage failure into a 503 and keeps the index", async () => {
  const broken = new MemoryDriver();
  const fail = async () => {
    throw new Error("s3: GetObject s3://bucket/secret/path: HTTP 503");
  };
  const index = new SqliteStore(":memory:");
  const store = new LocalBlobStore({ primary: broken, index });
  const body = Buffer.from("stored");
  const digest = `sha256:${createHash("sha256").update(body).digest("hex")}` as Digest;
  await store.put(digest, body);
  broken.reader = fail;
  broken.getContent = fail;
  const r = { start: 0, length: body.length, begin: () => {}, sink: async () => {} };
  for (const attempt of [store.send(digest, r), store.get(digest)]) {
    await assert.rejects(attempt, (err: RegistryError) => {
      assert.equal(err.code, "STORAGE_UNAVAILABLE");
      assert.equal(err.status, 503);
      assert.doesNotMatch(err.message, /bucket|secret/, "no storage detail for the client");
      assert.match(String((err.cause as Error).message), /HTTP 503/, "but all of it for the log");
      return true;
    });
  }
  assert.equal((await store.stat(digest))?.size, body.length, "the content stays indexed");
});
