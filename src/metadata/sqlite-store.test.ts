import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import Database from "better-sqlite3";
import type { Digest } from "../reference/reference.js";
import { runLifecycleSuite } from "./lifecycle-suite.js";
import { runMetadataSuite } from "./metadata-suite.js";
import { SqliteStore } from "./sqlite-store.js";
import { runUsageSuite } from "./usage-suite.js";

const tempDb = async () => join(await mkdtemp(join(tmpdir(), "hubmirror-db-")), "meta.db");

runMetadataSuite("sqlite", async () => new SqliteStore(await tempDb()));
runLifecycleSuite("sqlite", async () => new SqliteStore(await tempDb()));
runUsageSuite("sqlite", async () => new SqliteStore(await tempDb()));

it("sqlite store keeps everything across a reopen", async () => {
  const file = await tempDb();
  const key = { registry: "docker.io", repo: "library/busybox" };
  const digest = `sha256:${"a".repeat(64)}` as Digest;
  const s = new SqliteStore(file);
  await s.putManifest({ digest, mediaType: "m", size: 1 });
  await s.link(key, [digest]);
  await s.putTag(key, "latest", digest, 7);
  s.addCounters({ pulls: 4 });
  await s.close();
  const again = new SqliteStore(file);
  assert.deepEqual(await again.getTag(key, "latest"), { digest, checkedAt: 7 });
  assert.deepEqual(await again.getCounters(), { pulls: 4 });
  assert.equal(await again.isLinked(key, digest), true);
  await again.close();
});

it("sqlite store upgrades a database from before the blob index had locations", async () => {
  const file = await tempDb();
  const old = new Database(file);
  old.exec(`CREATE TABLE blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at INTEGER NOT NULL,
    last_access INTEGER NOT NULL)`);
  const digest = `sha256:${"b".repeat(64)}` as Digest;
  old.prepare("INSERT INTO blobs VALUES (?, 5, 1, 2)").run(digest);
  old.close();
  const s = new SqliteStore(file);
  assert.deepEqual(await s.getBlob(digest), {
    digest,
    size: 5,
    kind: "blob",
    location: "local",
    lastAccess: 2,
    requests: 0,
  });
  await s.close();
});
