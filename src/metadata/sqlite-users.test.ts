import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import Database from "better-sqlite3";
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
  s.users.recordUsage(made.user.id, Date.now(), { requests: 3, pulls: 1, bytes: 42 });
  await s.close();
  const again = new SqliteStore(file);
  assert.equal((await again.users.pullTokenByHash("t"))?.user.name, "alice");
  assert.equal((await again.users.usage(made.user.id, "2000-01-01"))[0]?.bytes, 42);
  await again.close();
});

it("sqlite user store adds last_at to the usage table of an older database", async () => {
  const file = await tempDb();
  const old = new Database(file);
  old.exec(`CREATE TABLE user_usage (user_id INTEGER NOT NULL, day TEXT NOT NULL, requests INTEGER NOT NULL,
    pulls INTEGER NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (user_id, day))`);
  const today = utcDay(Date.now());
  old.prepare("INSERT INTO user_usage VALUES (1, ?, 4, 2, 40)").run(today);
  old.close();
  const s = new SqliteStore(file);
  assert.deepEqual((await s.users.activity(today)).get(1), {
    lastActive: undefined,
    today: { requests: 4, pulls: 2, bytes: 40 },
  });
  const at = Date.now();
  s.users.recordUsage(1, at, { requests: 1, pulls: 0, bytes: 1 });
  await s.flush();
  assert.equal((await s.users.activity(today)).get(1)?.lastActive, at);
  await s.close();
});
