// Sign-up under each auth.signup policy, and anonymous mode (the default) unchanged, against an in-process
// mirror in users mode.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import type { ConfigInput } from "../../src/config/schema.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { ApiClient, code } from "./api-client.js";

let hub: FakeHub;
before(async () => {
  hub = await new FakeHub().start();
});
after(() => hub.stop());

/** A users-mode mirror for the suite, with `auth` on top of users mode and the mirror.test domain. */
function useMirror(auth: NonNullable<ConfigInput["auth"]>): { m: InProcessMirror } {
  const env = {} as { m: InProcessMirror };
  before(async () => {
    env.m = await startInProcessMirror(hub.url, { auth: { mode: "users", domain: "mirror.test", ...auth } });
  });
  after(() => env.m.stop());
  return env;
}

async function adminPost(m: InProcessMirror, path: string, body: unknown) {
  const res = await request(`${m.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

describe("sign-up open", () => {
  const env = useMirror({ signup: "open" });

  it("creates the account, signs it in, and shows its pull token and personal address once", async () => {
    const c = new ApiClient(env.m.url);
    const settings = await c.get("/api/auth/settings");
    assert.deepEqual(settings.body, { mode: "users", signup: "open", domain: "mirror.test" });
    const res = await c.signUp("alice", "correct horse");
    assert.equal(res.status, 201);
    const cookie = String(res.headers["set-cookie"]);
    assert.match(
      cookie,
      /^hubmirror_session=[a-z2-7]{52}; Max-Age=604800; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    const token = res.body.token as { secret: string; personal: { host: string; url: string }; hint: string };
    assert.match(token.secret, /^[a-z2-7]{32}$/);
    assert.equal(token.hint, token.secret.slice(0, 4));
    const port = new URL(env.m.url).port;
    assert.deepEqual(token.personal, {
      host: `${token.secret}.mirror.test:${port}`,
      url: `http://${token.secret}.mirror.test:${port}`,
    });
    assert.deepEqual(res.body.mirror, {
      url: env.m.url,
      registry: `127.0.0.1:${port}`,
      domain: "mirror.test",
    });
    const me = await c.get("/api/me");
    assert.equal(me.status, 200);
    assert.equal((me.body.user as { name: string }).name, "alice");
    const tokens = await c.get("/api/me/tokens");
    const listed = tokens.body.tokens as Record<string, unknown>[];
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.secret, undefined, "the secret is never shown again");
    assert.ok(!JSON.stringify(tokens.body).includes(token.secret));
  });

  it("refuses a taken name, a bad name and a short password, naming what is wrong", async () => {
    const c = new ApiClient(env.m.url);
    const taken = await c.signUp("alice", "another password");
    assert.equal(taken.status, 400);
    assert.match(taken.body.errors?.[0]?.message ?? "", /alice is taken/);
    const bad = await c.signUp("Bad Name!", "long enough");
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors?.[0]?.message ?? "", /invalid user name "Bad Name!"/);
    const short = await c.signUp("bob", "short");
    assert.equal(short.status, 400);
    assert.match(short.body.errors?.[0]?.message ?? "", /8 to 1024 characters/);
    assert.equal(c.cookie, undefined, "no session for a refused sign-up");
  });
});

describe("sign-up by invite", () => {
  const env = useMirror({ signup: "invite" });

  it("needs an unused, unexpired invite code from an admin", async () => {
    const c = new ApiClient(env.m.url);
    assert.equal(code(await c.signUp("carol", "correct horse")), "DENIED");
    assert.equal(code(await c.signUp("carol", "correct horse", "notacode")), "DENIED");
    const made = await adminPost(env.m, "/admin/invites", {});
    assert.equal(made.status, 200);
    const invite = (made.body.invite as { code: string }).code;
    assert.match(invite, /^[a-z2-7]{16}$/);
    const res = await c.signUp("carol", "correct horse", invite);
    assert.equal(res.status, 201);
    assert.equal(code(await new ApiClient(env.m.url).signUp("dave", "correct horse", invite)), "DENIED");
    const listed = await request(`${env.m.url}/admin/invites`).then((r) => r.body.json());
    const invites = (listed as { invites: { usedBy: string | null; hint: string }[] }).invites;
    assert.deepEqual(
      invites.map((i) => [i.usedBy, i.hint]),
      [["carol", invite.slice(0, 4)]],
    );
    assert.ok(!JSON.stringify(listed).includes(invite), "invite codes are stored hashed");
    const short = await adminPost(env.m, "/admin/invites", { expires: "1ms" });
    await sleep(5);
    const expired = (short.body.invite as { code: string }).code;
    assert.equal(code(await new ApiClient(env.m.url).signUp("erin", "correct horse", expired)), "DENIED");
  });
});

describe("sign-up closed", () => {
  const env = useMirror({ signup: "closed" });

  it("refuses every sign-up; admins still add accounts", async () => {
    const c = new ApiClient(env.m.url);
    const res = await c.signUp("frank", "correct horse");
    assert.equal(res.status, 403);
    assert.match(res.body.errors?.[0]?.message ?? "", /sign-up is closed/);
    const added = await adminPost(env.m, "/admin/users", { name: "frank" });
    assert.equal(added.status, 200);
    const password = added.body.password as string;
    assert.equal((await c.signIn("frank", password)).status, 200);
  });
});

describe("anonymous mode (the default)", () => {
  let m: InProcessMirror;
  before(async () => {
    m = await startInProcessMirror(hub.url);
  });
  after(() => m.stop());

  it("serves the registry to anyone, and has no accounts API but its settings", async () => {
    const ping = await m.get("/v2/");
    await ping.body.dump();
    assert.equal(ping.statusCode, 200);
    const c = new ApiClient(m.url);
    assert.deepEqual((await c.get("/api/auth/settings")).body, {
      mode: "anonymous",
      signup: "invite",
      domain: null,
    });
    const signup = await c.signUp("alice", "correct horse");
    assert.equal(signup.status, 404);
    assert.match(signup.body.errors?.[0]?.message ?? "", /users mode is off/);
    assert.equal((await c.get("/api/me")).status, 404);
    const token = await m.get("/token");
    await token.body.dump();
    assert.equal(token.statusCode, 404);
  });
});
