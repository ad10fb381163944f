import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { RegistryError } from "../errors/oci-errors.js";
import { SqliteStore } from "../metadata/sqlite-store.js";
import { type UserRecord, utcDay } from "../metadata/user-store.js";
import { QuotaGate } from "./quota.js";

const DAY = 86_400_000;
/** Noon today (UTC): usage older than the kept days is pruned, so the tests' days are recent ones. */
const noon = Math.floor(Date.now() / DAY) * DAY + DAY / 2;

function user(id: number, quota: Partial<UserRecord["quota"]> = {}): UserRecord {
  return {
    id,
    name: `u${id}`,
    admin: false,
    disabled: false,
    createdAt: 0,
    quota: { requestsPerMinute: null, bytesPerDay: null, ...quota },
  };
}

async function refused(p: Promise<void>): Promise<{ code: string; retryAfter: number }> {
  const err = await p.then(
    () => assert.fail("expected a refusal"),
    (e: unknown) => e as RegistryError,
  );
  assert.ok(err instanceof RegistryError);
  return { code: err.code, retryAfter: Number(err.headers["Retry-After"]) };
}

const store = async () => new SqliteStore(join(await mkdtemp(join(tmpdir(), "hubmirror-quota-")), "meta.db"));

it("refuses requests over the per-minute quota with TOOMANYREQUESTS and Retry-After", async () => {
  const s = await store();
  const gate = new QuotaGate({ requestsPerMinute: 3, bytesPerDay: 0 }, s.users);
  const u = user(1);
  for (let i = 0; i < 3; i++) await gate.admit(u, noon);
  assert.deepEqual(await refused(gate.admit(u, noon)), { code: "TOOMANYREQUESTS", retryAfter: 20 });
  await gate.admit(user(2), noon);
  await gate.admit(u, noon + 20_000);
  const unlimited = user(3, { requestsPerMinute: 0 });
  for (let i = 0; i < 10; i++) await gate.admit(unlimited, noon);
  const own = user(4, { requestsPerMinute: 1 });
  await gate.admit(own, noon);
  assert.equal((await refused(gate.admit(own, noon))).retryAfter, 60);
  await s.close();
});

it("refuses once the day's bytes reached the quota, until the next UTC day, across a restart", async () => {
  const file = join(await mkdtemp(join(tmpdir(), "hubmirror-quota-")), "meta.db");
  let s = new SqliteStore(file);
  const gate = new QuotaGate({ requestsPerMinute: 0, bytesPerDay: 1000 }, s.users);
  const u = user(1);
  await gate.admit(u, noon);
  gate.record(u, { pull: true, bytes: 600 }, noon);
  await gate.admit(u, noon);
  gate.record(u, { pull: false, bytes: 600 }, noon); // the request that crosses the quota is served whole
  assert.deepEqual(await refused(gate.admit(u, noon)), { code: "TOOMANYREQUESTS", retryAfter: DAY / 2000 });
  await gate.admit(user(1, { bytesPerDay: 0 }), noon);
  await gate.admit(u, noon + DAY / 2);
  await s.close();
  s = new SqliteStore(file);
  const restarted = new QuotaGate({ requestsPerMinute: 0, bytesPerDay: 1000 }, s.users);
  assert.equal((await refused(restarted.admit(u, noon + 1000))).code, "TOOMANYREQUESTS");
  const today = utcDay(noon);
  assert.deepEqual(await s.users.usage(1, today), [{ day: today, requests: 2, pulls: 1, bytes: 1200 }]);
  await s.close();
});
