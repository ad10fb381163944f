import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { SqliteStore } from "./sqlite-store.js";
import { utcDay } from "./user-store.js";
import { runUsersSuite } from "./users-suite.js";

const tempDb = async () => join(await mkdtemp(join(tmpdir(), "hubmirror-db-")), "meta.db");

runUsersSuite("sqlite", async () => new SqliteStore(await tempDb()));

it("sqlite user store keeps accounts, tokens and usage across a reopen", async () => {
  const file = await tempDb();
  const s = new SqliteStore(file);
  const made = await s.users.createUser({ name: "alice", passwordHash: "h", admin: false });
  assert.ok("user" in made);
  await s.users.addPullToken(made.user.id, { hash: "t", name: "default", hint: "t" });
  s.users.recordUsage(made.user.id, utcDay(Date.now()), { requests: 3, pulls: 1, bytes: 42 });
  await s.close();
  const again = new SqliteStore(file);
  assert.equal((await again.users.pullTokenByHash("t"))?.user.name, "alice");
  assert.equal((await again.users.usage(made.user.id, "2000-01-01"))[0]?.bytes, 42);
  await again.close();
});
