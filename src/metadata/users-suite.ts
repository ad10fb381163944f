import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MetadataStore } from "./store.js";
import { dayOffset, utcDay } from "./user-store.js";

const DAY = 86_400_000;
const user = (name: string, admin = false) => ({ name, passwordHash: `hash-of-${name}`, admin });

/** The users part of the metadata store suite: every store's `users` must pass it. */
export function runUsersSuite(name: string, create: () => Promise<MetadataStore>): void {
  describe(`user store suite: ${name}`, () => {
    it("creates accounts with unique names and updates them", async () => {
      const s = await create();
      const made = await s.users.createUser(user("alice", true));
      assert.ok("user" in made);
      assert.deepEqual(
        { ...made.user, createdAt: 0 },
        {
          id: made.user.id,
          name: "alice",
          admin: true,
          disabled: false,
          createdAt: 0,
          quota: { requestsPerMinute: null, bytesPerDay: null },
        },
      );
      assert.deepEqual(await s.users.createUser(user("alice")), { error: "name-taken" });
      assert.equal((await s.users.userByName("alice"))?.passwordHash, "hash-of-alice");
      assert.equal(await s.users.userByName("bob"), undefined);
      const id = made.user.id;
      assert.equal(
        await s.users.updateUser(id, { disabled: true, requestsPerMinute: 7, bytesPerDay: 0 }),
        true,
      );
      const changed = await s.users.userByName("alice");
      assert.equal(changed?.disabled, true);
      assert.deepEqual(changed?.quota, { requestsPerMinute: 7, bytesPerDay: 0 });
      await s.users.updateUser(id, { requestsPerMinute: null });
      assert.equal((await s.users.userByName("alice"))?.quota.requestsPerMinute, null);
      assert.equal(await s.users.updateUser(id + 100, { disabled: true }), false);
      await s.users.createUser(user("bob"));
      assert.deepEqual(
        (await s.users.listUsers()).map((u) => u.name),
        ["alice", "bob"],
      );
      await s.close();
    });

    it("finds pull tokens by hash or id with their user, per user, and revokes them", async () => {
      const s = await create();
      const alice = await s.users.createUser(user("alice"));
      const bob = await s.users.createUser(user("bob"));
      assert.ok("user" in alice && "user" in bob);
      const a1 = await s.users.addPullToken(alice.user.id, { hash: "h-a1", name: "laptop", hint: "a1" });
      const a2 = await s.users.addPullToken(alice.user.id, { hash: "h-a2", name: "ci", hint: "a2" });
      const b1 = await s.users.addPullToken(bob.user.id, { hash: "h-b1", name: "default", hint: "b1" });
      assert.equal((await s.users.pullTokenByHash("h-a2"))?.user.name, "alice");
      assert.equal((await s.users.pullTokenByHash("h-a2"))?.token.id, a2.id);
      assert.equal((await s.users.pullTokenById(b1.id))?.user.name, "bob");
      assert.equal(await s.users.pullTokenByHash("nope"), undefined);
      assert.deepEqual(
        (await s.users.listPullTokens(alice.user.id)).map((t) => t.name),
        ["laptop", "ci"],
      );
      assert.equal(await s.users.deletePullToken(alice.user.id, b1.id), false, "not alice's to delete");
      assert.ok(await s.users.pullTokenById(b1.id));
      s.users.touchPullToken(a1.id, 1234);
      assert.equal((await s.users.listPullTokens(alice.user.id))[0]?.lastUsed, 1234, "buffered use shows");
      await s.flush();
      assert.equal((await s.users.pullTokenByHash("h-a1"))?.token.lastUsed, 1234);
      assert.equal(await s.users.deletePullToken(alice.user.id, a1.id), true);
      assert.equal(await s.users.deletePullTokens(alice.user.id), 1);
      assert.equal(await s.users.pullTokenByHash("h-a2"), undefined);
      await s.users.deletePullTokens(bob.user.id);
      const next = await s.users.addPullToken(bob.user.id, { hash: "h-b2", name: "default", hint: "b2" });
      assert.ok(next.id > b1.id, "a revoked token's id is never given to another (bearer tokens name it)");
      await s.close();
    });

    it("keeps sessions until they expire or end", async () => {
      const s = await create();
      const made = await s.users.createUser(user("alice"));
      assert.ok("user" in made);
      const id = made.user.id;
      await s.users.createSession("s1", id, 2000);
      await s.users.createSession("s2", id, 5000);
      await s.users.createSession("s3", id, 5000);
      assert.equal((await s.users.sessionUser("s1", 1000))?.name, "alice");
      assert.equal(await s.users.sessionUser("s1", 2000), undefined, "expired");
      await s.users.deleteExpiredSessions(3000);
      assert.equal(await s.users.sessionUser("s1", 0), undefined, "deleted");
      await s.users.deleteSessions(id, "s2");
      assert.ok(await s.users.sessionUser("s2", 1000));
      assert.equal(await s.users.sessionUser("s3", 1000), undefined);
      await s.users.deleteSession("s2");
      assert.equal(await s.users.sessionUser("s2", 1000), undefined);
      await s.close();
    });

    it("consumes an invite once, only before it expires, with the account", async () => {
      const s = await create();
      const now = Date.now();
      const inv = await s.users.createInvite({ hash: "i1", hint: "i1", expiresAt: now + 60_000 });
      await s.users.createInvite({ hash: "old", hint: "ol", expiresAt: now - 1 });
      assert.deepEqual(await s.users.createUser(user("x"), { hash: "old", now }), {
        error: "invite-invalid",
      });
      assert.deepEqual(await s.users.createUser(user("x"), { hash: "nope", now }), {
        error: "invite-invalid",
      });
      assert.equal(await s.users.userByName("x"), undefined, "no account without a valid invite");
      const made = await s.users.createUser(user("x"), { hash: "i1", now });
      assert.ok("user" in made);
      assert.deepEqual(await s.users.createUser(user("y"), { hash: "i1", now }), { error: "invite-invalid" });
      const listed = await s.users.listInvites();
      assert.equal(listed.find((i) => i.id === inv.id)?.usedBy, "x");
      // A taken name does not use up the invite.
      const second = await s.users.createInvite({ hash: "i2", hint: "i2", expiresAt: now + 60_000 });
      assert.deepEqual(await s.users.createUser(user("x"), { hash: "i2", now }), { error: "name-taken" });
      assert.equal((await s.users.listInvites()).find((i) => i.id === second.id)?.usedBy, undefined);
      assert.equal(await s.users.deleteInvite(second.id), true);
      assert.equal(await s.users.deleteInvite(second.id), false);
      await s.close();
    });

    it("adds up usage per user and day, buffered until a flush", async () => {
      const s = await create();
      const now = Date.now();
      const today = utcDay(now);
      const yesterday = dayOffset(today, -1);
      s.users.recordUsage(1, now - DAY, { requests: 2, pulls: 1, bytes: 100 });
      s.users.recordUsage(1, now, { requests: 1, pulls: 0, bytes: 10 });
      s.users.recordUsage(2, now, { requests: 5, pulls: 5, bytes: 5 });
      assert.deepEqual(await s.users.usage(1, yesterday), [
        { day: yesterday, requests: 2, pulls: 1, bytes: 100 },
        { day: today, requests: 1, pulls: 0, bytes: 10 },
      ]);
      await s.flush();
      s.users.recordUsage(1, now, { requests: 1, pulls: 1, bytes: 1 });
      assert.deepEqual(await s.users.usage(1, today), [{ day: today, requests: 2, pulls: 1, bytes: 11 }]);
      assert.deepEqual(await s.users.usage(2, today), [{ day: today, requests: 5, pulls: 5, bytes: 5 }]);
      s.users.recordUsage(3, now - 9 * DAY, { requests: 1, pulls: 0, bytes: 0 });
      assert.deepEqual(
        await s.users.userCounts(yesterday),
        { registered: 0, active: 2 },
        "buffered use counts",
      );
      await s.flush();
      assert.deepEqual(await s.users.userCounts(dayOffset(today, -9)), { registered: 0, active: 3 });
      assert.deepEqual(await s.users.userCounts(today), { registered: 0, active: 2 });
      await s.close();
    });

    it("tells each user's last request and usage today, written or buffered", async () => {
      const s = await create();
      // Noon today: a few seconds back is still today.
      const now = Date.parse(`${utcDay(Date.now())}T12:00:00Z`);
      const today = utcDay(now);
      s.users.recordUsage(1, now - 2000, { requests: 1, pulls: 1, bytes: 10 });
      s.users.recordUsage(1, now - 3000, { requests: 1, pulls: 0, bytes: 5 });
      s.users.recordUsage(1, now - DAY, { requests: 7, pulls: 7, bytes: 70 });
      s.users.recordUsage(2, now - 3 * DAY, { requests: 1, pulls: 0, bytes: 1 });
      const expected = new Map([
        [1, { lastActive: now - 2000, today: { requests: 2, pulls: 1, bytes: 15 } }],
        [2, { lastActive: now - 3 * DAY, today: { requests: 0, pulls: 0, bytes: 0 } }],
      ]);
      assert.deepEqual(await s.users.activity(today), expected, "buffered");
      await s.flush();
      assert.deepEqual(await s.users.activity(today), expected, "written");
      s.users.recordUsage(2, now - 1000, { requests: 1, pulls: 1, bytes: 3 });
      assert.deepEqual((await s.users.activity(today)).get(2), {
        lastActive: now - 1000,
        today: { requests: 1, pulls: 1, bytes: 3 },
      });
      await s.flush();
      assert.equal((await s.users.activity(today)).get(2)?.lastActive, now - 1000, "the later time wins");
      assert.deepEqual(
        (await s.users.activity(dayOffset(today, -1))).get(1)?.today,
        { requests: 7, pulls: 7, bytes: 70 },
        "another day's usage",
      );
      await s.close();
    });
  });
}
