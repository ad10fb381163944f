// Console sessions: sign-in and sign-out, cookie attributes, expiry, password change, CSRF and Origin checks on
// every state change, and sign-in rate limits (per account and per address).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConfigInput } from "../../src/config/schema.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { ApiClient, addUser, code, whoAmI } from "./api-client.js";

let hub: FakeHub;
before(async () => {
  hub = await new FakeHub().start();
});
after(() => hub.stop());

function useMirror(auth: NonNullable<ConfigInput["auth"]> = {}): { m: InProcessMirror } {
  const env = {} as { m: InProcessMirror };
  before(async () => {
    env.m = await startInProcessMirror(hub.url, { auth: { mode: "users", ...auth } });
  });
  after(() => env.m.stop());
  return env;
}

describe("sign-in and sign-out", () => {
  const env = useMirror({ login: { perAccount: 50, perAddress: 100 } });

  it("signs in with the right password only, without telling which part was wrong", async () => {
    await addUser(env.m.url, "alice");
    const c = new ApiClient(env.m.url);
    const wrong = await c.signIn("alice", "not the password");
    const unknown = await c.signIn("nobody", "not the password");
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.body.errors?.[0]?.message, unknown.body.errors?.[0]?.message);
    assert.equal(c.cookie, undefined);
    assert.equal(await whoAmI(c), null);
    const ok = await c.signIn("alice", "alice-password");
    assert.equal(ok.status, 200);
    assert.equal((ok.body.user as { name: string }).name, "alice");
    assert.equal(await whoAmI(c), "alice");
  });

  it("signs out: the session is gone on the server, not only the cookie", async () => {
    const c = new ApiClient(env.m.url);
    await c.signIn("alice", "alice-password");
    const stolen = c.cookie;
    const out = await c.post("/api/auth/signout");
    assert.equal(out.status, 200);
    assert.match(String(out.headers["set-cookie"]), /^hubmirror_session=; Max-Age=0; Path=\//);
    c.cookie = stolen;
    assert.equal(await whoAmI(c), null, "the old cookie is worth nothing");
  });

  it("changes the password with the current one, and signs out every other session", async () => {
    await addUser(env.m.url, "bob");
    const here = new ApiClient(env.m.url);
    const elsewhere = new ApiClient(env.m.url);
    await here.signIn("bob", "bob-password");
    await elsewhere.signIn("bob", "bob-password");
    const wrong = await here.post("/api/me/password", { current: "guess", password: "a new password" });
    assert.equal(wrong.status, 403);
    const ok = await here.post("/api/me/password", { current: "bob-password", password: "a new password" });
    assert.equal(ok.status, 200);
    assert.equal(await whoAmI(here), "bob");
    assert.equal(await whoAmI(elsewhere), null);
    assert.equal((await new ApiClient(env.m.url).signIn("bob", "bob-password")).status, 401);
    assert.equal((await new ApiClient(env.m.url).signIn("bob", "a new password")).status, 200);
  });
});

describe("session lifetime", () => {
  const env = useMirror({ sessionLifetime: "2s" });

  it("ends a session after sessionLifetime", async () => {
    await addUser(env.m.url, "alice");
    const c = new ApiClient(env.m.url);
    const res = await c.signIn("alice", "alice-password");
    assert.match(String(res.headers["set-cookie"]), /Max-Age=2;/);
    assert.equal(await whoAmI(c), "alice");
    await sleep(2100);
    assert.equal(await whoAmI(c), null);
  });
});

describe("cookies over TLS (auth.url https)", () => {
  const env = useMirror({ url: "https://mirror.example" });

  it("are Secure and __Host- prefixed, and the realm and addresses follow the public URL", async () => {
    await addUser(env.m.url, "carol");
    const c = new ApiClient(env.m.url);
    const res = await c.call(
      "POST",
      "/api/auth/signin",
      { name: "carol", password: "carol-password" },
      {
        headers: { origin: "https://mirror.example" },
      },
    );
    assert.equal(res.status, 200);
    assert.match(
      String(res.headers["set-cookie"]),
      /^__Host-hubmirror_session=\w+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Strict; Secure$/,
    );
    assert.deepEqual(res.body.mirror, {
      url: "https://mirror.example",
      registry: "mirror.example",
      domain: null,
    });
    const ping = await env.m.get("/v2/");
    await ping.body.dump();
    assert.match(
      String(ping.headers["www-authenticate"]),
      /^Bearer realm="https:\/\/mirror\.example\/token"/,
    );
  });
});

describe("CSRF and Origin", () => {
  const env = useMirror({ login: { perAccount: 50, perAddress: 100 } });
  let c: ApiClient;
  before(async () => {
    await addUser(env.m.url, "dave");
    c = new ApiClient(env.m.url);
    await c.signIn("dave", "dave-password");
  });

  const tokenCount = async () => ((await c.get("/api/me/tokens")).body.tokens as unknown[]).length;

  it("refuses a state change without the session's CSRF token, or with another one", async () => {
    const before = await tokenCount();
    const none = await c.post("/api/me/tokens", { name: "x" }, { noCsrf: true });
    assert.equal(none.status, 403);
    assert.match(none.body.errors?.[0]?.message ?? "", /x-csrf-token/);
    const other = new ApiClient(env.m.url);
    await addUser(env.m.url, "eve");
    await other.signIn("eve", "eve-password");
    const wrong = await c.post(
      "/api/me/tokens",
      { name: "x" },
      { noCsrf: true, headers: { "x-csrf-token": other.csrf as string } },
    );
    assert.equal(wrong.status, 403);
    assert.equal(await tokenCount(), before, "nothing was created");
    assert.equal((await c.post("/api/me/tokens", { name: "x" })).status, 200);
    assert.equal(await tokenCount(), before + 1);
  });

  it("refuses another site's Origin even with the right token, and cross-site fetches", async () => {
    const evil = await c.post(
      "/api/me/tokens",
      { name: "y" },
      { headers: { origin: "http://evil.example" } },
    );
    assert.equal(evil.status, 403);
    assert.match(evil.body.errors?.[0]?.message ?? "", /cross-origin/);
    const site = await c.post(
      "/api/me/tokens",
      { name: "y" },
      { headers: { "sec-fetch-site": "cross-site" } },
    );
    assert.equal(site.status, 403);
    const login = await new ApiClient(env.m.url).call(
      "POST",
      "/api/auth/signin",
      { name: "dave", password: "dave-password" },
      {
        headers: { origin: "http://evil.example" },
      },
    );
    assert.equal(login.status, 403, "no login CSRF");
  });

  it("takes JSON bodies only, so a cross-site form can't post", async () => {
    const form = await new ApiClient(env.m.url).call(
      "POST",
      "/api/auth/signin",
      "name=dave&password=dave-password",
      {
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "" },
      },
    );
    assert.equal(form.status, 400);
    assert.equal(code(form), "REQUEST_INVALID");
  });
});

describe("sign-in rate limit per account", () => {
  const env = useMirror({ login: { perAccount: 5, perAddress: 100 } });

  it("locks an account after 5 failures a minute (429, Retry-After), whoever knows the password", async () => {
    await addUser(env.m.url, "frank");
    await addUser(env.m.url, "grace");
    const c = new ApiClient(env.m.url);
    for (let i = 0; i < 5; i++)
      assert.equal((await c.signIn("frank", `guess ${i}`)).status, 401, `guess ${i}`);
    const limited = await c.signIn("frank", "frank-password");
    assert.equal(limited.status, 429);
    assert.equal(code(limited), "TOOMANYREQUESTS");
    assert.ok(Number(limited.headers["retry-after"]) >= 1);
    assert.equal((await c.signIn("grace", "grace-password")).status, 200, "other accounts are not locked");
  });
});

describe("sign-in rate limit per address", () => {
  const env = useMirror({ login: { perAccount: 100, perAddress: 3 } });

  it("limits attempts from one address, successful or not, sign-ups included", async () => {
    await addUser(env.m.url, "grace");
    const c = new ApiClient(env.m.url);
    assert.equal((await c.signIn("grace", "wrong password")).status, 401);
    for (let i = 0; i < 2; i++) assert.equal((await c.signIn("grace", "grace-password")).status, 200);
    const limited = await c.signIn("grace", "grace-password");
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers["retry-after"]) >= 1);
    assert.equal(code(await c.signUp("henry", "correct horse")), "TOOMANYREQUESTS");
  });
});
