// Who may see and change what: a user sees only their own tokens and figures; the user admin API refuses
// non-admins (403) and callers who are not signed in (401); an admin manages users from the console.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { ADMIN_CALLS, ApiClient, addUser, code, whoAmI } from "./api-client.js";

let hub: FakeHub;
let m: InProcessMirror;
let alice: Awaited<ReturnType<typeof addUser>>;
let bob: Awaited<ReturnType<typeof addUser>>;
let asAlice: ApiClient;
let asBob: ApiClient;
let asRoot: ApiClient;

const ping = async (token: string) => {
  const res = await request(`${m.url}/v2/`, { headers: { host: `${token}.mirror.test` } });
  await res.body.dump();
  return res.statusCode;
};

before(async () => {
  hub = await new FakeHub().start();
  m = await startInProcessMirror(hub.url, { auth: { mode: "users", domain: "mirror.test" } });
  alice = await addUser(m.url, "alice");
  bob = await addUser(m.url, "bob");
  await addUser(m.url, "root", { admin: true });
  asAlice = new ApiClient(m.url);
  asBob = new ApiClient(m.url);
  asRoot = new ApiClient(m.url);
  await asAlice.signIn("alice", alice.password);
  await asBob.signIn("bob", bob.password);
  await asRoot.signIn("root", "root-password");
  for (let i = 0; i < 3; i++) await ping(bob.token);
});
after(async () => {
  await m.stop();
  await hub.stop();
});

describe("a user's own data", () => {
  it("lists only the signed-in user's tokens", async () => {
    const mine = (await asAlice.get("/api/me/tokens")).body.tokens as { id: number }[];
    assert.deepEqual(
      mine.map((t) => t.id),
      [alice.tokenId],
    );
    assert.ok(!JSON.stringify(mine).includes(String(bob.token.slice(0, 8))));
  });

  it("can't revoke another user's token", async () => {
    const res = await asAlice.delete("/api/me/tokens", { id: bob.tokenId });
    assert.equal(res.status, 404);
    assert.equal(await ping(bob.token), 200, "bob's token still works");
    const own = await asAlice.post("/api/me/tokens", { name: "laptop" });
    const made = own.body.token as { id: number; secret: string };
    assert.equal(await ping(made.secret), 200);
    assert.equal((await asAlice.delete("/api/me/tokens", { id: made.id })).status, 200);
    assert.equal(await ping(made.secret), 401, "a revoked token is refused at once");
  });

  it("shows each user only their own figures", async () => {
    const mine = await asAlice.get("/api/me/stats");
    assert.equal(mine.body.user, "alice");
    assert.equal((mine.body.total as { requests: number }).requests, 1, "the ping with her laptop token");
    const bobs = await asBob.get("/api/me/stats");
    assert.ok((bobs.body.total as { requests: number }).requests >= 3);
    const other = await asAlice.get("/api/users/stats?name=bob");
    assert.equal(other.status, 403);
    assert.ok(!("days" in other.body));
  });
});

describe("the user admin API", () => {
  it("refuses a non-admin with 403, and changes nothing", async () => {
    for (const [method, path, body] of ADMIN_CALLS) {
      const res = await asAlice.call(method, path, body);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(code(res), "DENIED");
    }
    assert.equal(await ping(bob.token), 200, "bob is neither disabled nor reset");
    const users = (await asRoot.get("/api/users")).body.users as { name: string }[];
    assert.ok(!users.some((u) => u.name === "mallory"));
  });

  it("refuses a caller who is not signed in with 401", async () => {
    const anonymous = new ApiClient(m.url);
    for (const [method, path, body] of ADMIN_CALLS) {
      assert.equal((await anonymous.call(method, path, body)).status, 401, `${method} ${path}`);
    }
    assert.equal(await whoAmI(anonymous), null);
    assert.equal((await anonymous.get("/api/me/tokens")).status, 401);
  });

  it("lets an admin manage users from the console, with the CSRF token", async () => {
    const list = await asRoot.get("/api/users");
    const listed = list.body.users as {
      name: string;
      lastActive: string | null;
      today: { requests: number };
    }[];
    assert.deepEqual(
      listed.map((u) => u.name),
      ["alice", "bob", "root"],
    );
    const bobListed = listed.find((u) => u.name === "bob");
    assert.ok((bobListed?.today.requests ?? 0) >= 3, "bob's pings today");
    assert.ok(Date.now() - Date.parse(bobListed?.lastActive ?? "") < 60_000, "bob was active just now");
    assert.equal(listed.find((u) => u.name === "root")?.lastActive, null, "root never pulled");
    assert.equal((await asRoot.post("/api/users/disable", { name: "bob" }, { noCsrf: true })).status, 403);
    assert.equal(await ping(bob.token), 200);
    const disabled = await asRoot.post("/api/users/disable", { name: "bob" });
    assert.equal(disabled.status, 200);
    assert.equal((disabled.body.user as { disabled: boolean }).disabled, true);
    assert.equal(await ping(bob.token), 403);
    assert.equal(await whoAmI(asBob), null, "a disabled user's sessions end");
    assert.equal((await asRoot.post("/api/users/enable", { name: "bob" })).status, 200);
    const stats = await asRoot.get("/api/users/stats?name=bob");
    assert.equal(stats.body.user, "bob");
    const unknown = await asRoot.post("/api/users/disable", { name: "nobody" });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.errors?.[0]?.message ?? "", /no user "nobody"/);
  });
});
