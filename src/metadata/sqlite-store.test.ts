import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import type { Digest } from "../reference/reference.js";
import { runMetadataSuite } from "./metadata-suite.js";
import { SqliteStore } from "./sqlite-store.js";

const tempDb = async () => join(await mkdtemp(join(tmpdir(), "hubmirror-db-")), "meta.db");

runMetadataSuite("sqlite", async () => new SqliteStore(await tempDb()));

it("sqlite store keeps everything across a reopen", async () => {
  const file = await tempDb();
  const key = { registry: "docker.io", repo: "library/busybox" };
  const digest = `sha256:${"a".repeat(64)}` as Digest;
  const s = new SqliteStore(file);
  await s.putManifest(key, { digest, mediaType: "m", size: 1 });
  await s.putTag(key, "latest", digest, 7);
  s.addCounters({ pulls: 4 });
  await s.close();
  const again = new SqliteStore(file);
  assert.deepEqual(await again.getTag(key, "latest"), { digest, checkedAt: 7 });
  assert.deepEqual(await again.getCounters(), { pulls: 4 });
  await again.close();
});
