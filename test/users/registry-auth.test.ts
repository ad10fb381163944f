// Registry requests in users mode: who may pull (personal host, Basic, Bearer from the mirror's /token), the 401
// challenge, a disabled user or a reset token refused at once, per-user quotas, and the per-user usage counts.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Dispatcher } from "undici";
import { request } from "undici";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { errorCode, eventually } from "../helpers.js";
import { ApiClient, addUser, basic } from "./api-client.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const LAYER = Buffer.alloc(4096, 7);

let hub: FakeHub;
let m: InProcessMirror;
let manifest: string;
let layer: string;
let port: string;

before(async () => {
  hub = await new FakeHub().start();
  const config = hub.addBlob(Buffer.from('{"os":"linux"}'));
  layer = hub.addBlob(LAYER);
  manifest = hub.addManifest(
    "library/app",
    {
      schemaVersion: 2,
      mediaType: DOCKER,
      config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: config, size: 14 },
      layers: [
        { mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: layer, size: LAYER.length },
      ],
    },
    DOCKER,
    "latest",
  );
  m = await startInProcessMirror(hub.url, {
    auth: { mode: "users", domain: "mirror.test", quota: { requestsPerMinute: 1000 } },
  });
  port = new URL(m.url).port;
});
after(async () => {
  await m.stop();
  await hub.stop();
});

/** A request's status, error code and WWW-Authenticate. */
async function ask(
  path: string,
  headers: Record<string, string> = {},
  method: Dispatcher.HttpMethod = "GET",
) {
  const res = await request(`${m.url}${path}`, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return {
    status: res.statusCode,
    code: res.statusCode >= 400 && body.length > 0 ? errorCode(body) : undefined,
    challenge: res.headers["www-authenticate"] as string | undefined,
    retryAfter: res.headers["retry-after"] as string | undefined,
    body,
  };
}

const host = (token: string) => ({ host: `${token}.mirror.test:${port}` });

/** Today's usage of a user, from the admin API. */
async function usedToday(name: string): Promise<{ requests: number; pulls: number; bytes: number }> {
  const res = await request(`${m.url}/admin/users/stats?name=${name}`);
  return ((await res.body.json()) as { today: { requests: number; pulls: number; bytes: number } }).today;
}

/**
 * Waits until a user's usage counts `requests`: a blob's bytes are recorded when the server's last write is done,
 * which the client can see the body before.
 */
const recorded = (name: string, requests: number) =>
  eventually(
    `${requests} requests recorded for ${name}`,
    async () => (await usedToday(name)).requests >= requests,
  );
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function tokenFor(name: string, secret: string): Promise<string> {
  const res = await ask("/token?service=hubmirror&scope=repository:library/app:pull", {
    authorization: basic(name, secret),
  });
  assert.equal(res.status, 200, res.body.toString());
  const body = JSON.parse(res.body.toString()) as { token: string; access_token: string; expires_in: number };
  assert.equal(body.token, body.access_token);
  assert.equal(body.expires_in, 300);
  return body.token;
}

describe("registry auth", () => {
  it("challenges an anonymous request with the mirror's own token realm", async () => {
    const ping = await ask("/v2/");
    assert.equal(ping.status, 401);
    assert.equal(ping.code, "UNAUTHORIZED");
    assert.equal(ping.challenge, `Bearer realm="${m.url}/token",service="hubmirror"`);
    const pull = await ask("/v2/library/app/manifests/latest", {}, "HEAD");
    assert.equal(pull.status, 401);
    assert.equal(
      pull.challenge,
      `Bearer realm="${m.url}/token",service="hubmirror",scope="repository:library/app:pull"`,
    );
    assert.equal(hub.count("GET", /manifests/), 0, "nothing went upstream");
    const token = await ask("/token");
    assert.equal(token.status, 401);
    assert.equal(token.challenge, 'Basic realm="hubmirror"');
  });

  it("serves a user by personal address, Basic user:token, and a Bearer token from /token (GET or POST)", async () => {
    const alice = await addUser(m.url, "alice");
    const byHost = await ask("/v2/library/app/manifests/latest", host(alice.token));
    assert.equal(byHost.status, 200);
    assert.equal(JSON.parse(byHost.body.toString()).mediaType, DOCKER);
    assert.equal(
      (await ask(`/v2/library/app/blobs/${layer}`, { authorization: basic("alice", alice.token) })).status,
      200,
    );
    const token = await tokenFor("alice", alice.token);
    assert.ok(!token.includes(alice.token));
    assert.equal((await ask(`/v2/library/app/manifests/${manifest}`, bearer(token))).status, 200);
    const form = new URLSearchParams({
      grant_type: "password",
      username: "alice",
      password: alice.token,
      service: "hubmirror",
      client_id: "containerd-client",
    });
    const oauth = await request(`${m.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    const posted = (await oauth.body.json()) as { access_token: string };
    assert.equal(oauth.statusCode, 200);
    assert.equal((await ask("/v2/", bearer(posted.access_token))).status, 200);
  });

  it("refuses wrong credentials with 401 and the challenge", async () => {
    const alice = await addUser(m.url, "alice2");
    const bob = await addUser(m.url, "bob");
    const cases: [string, Record<string, string>][] = [
      ["a made-up token", { authorization: basic("alice2", "a".repeat(32)) }],
      ["someone else's token", { authorization: basic("alice2", bob.token) }],
      ["the account password", { authorization: basic("alice2", alice.password) }],
      ["a made-up personal host", host("b".repeat(32))],
      ["a forged bearer token", bearer("hm1.eyJ0IjoxLCJ1IjoxLCJleHAiOjk5OTk5OTk5OTl9.AAAA")],
      ["another scheme", { authorization: "Digest x" }],
    ];
    for (const [what, headers] of cases) {
      const res = await ask("/v2/library/app/manifests/latest", headers);
      assert.equal(res.status, 401, what);
      assert.match(res.challenge ?? "", /^Bearer realm=/, what);
    }
    assert.equal((await ask("/token", { authorization: basic("alice2", bob.token) })).status, 401);
    assert.equal((await ask("/token", { authorization: basic("alice2", alice.password) })).status, 401);
  });

  it("refuses a disabled user's pulls at once, by every credential, and lets them in again when enabled", async () => {
    const carol = await addUser(m.url, "carol");
    const token = await tokenFor("carol", carol.token);
    const creds = [host(carol.token), { authorization: basic("carol", carol.token) }, bearer(token)];
    for (const h of creds) assert.equal((await ask("/v2/", h)).status, 200);
    const admin = await request(`${m.url}/admin/users/disable`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "carol" }),
    });
    assert.equal(admin.statusCode, 200);
    await admin.body.dump();
    for (const h of creds) {
      const res = await ask("/v2/library/app/manifests/latest", h);
      assert.equal(res.status, 403);
      assert.equal(res.code, "DENIED");
    }
    assert.equal((await ask("/token", { authorization: basic("carol", carol.token) })).status, 403);
    assert.equal((await new ApiClient(m.url).signIn("carol", carol.password)).status, 403);
    await request(`${m.url}/admin/users/enable`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "carol" }),
    }).then((r) => r.body.dump());
    for (const h of creds) assert.equal((await ask("/v2/", h)).status, 200);
  });

  it("revokes the old token, its personal address and its bearer tokens on reset", async () => {
    const dave = await addUser(m.url, "dave");
    const token = await tokenFor("dave", dave.token);
    const res = await request(`${m.url}/admin/users/reset-token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "dave" }),
    });
    const fresh = ((await res.body.json()) as { token: { secret: string } }).token.secret;
    assert.notEqual(fresh, dave.token);
    for (const h of [host(dave.token), { authorization: basic("dave", dave.token) }, bearer(token)]) {
      assert.equal((await ask("/v2/", h)).status, 401);
    }
    assert.equal((await ask("/v2/", host(fresh))).status, 200);
  });

  it("keeps the catalog to admins", async () => {
    const erin = await addUser(m.url, "erin");
    const root = await addUser(m.url, "root", { admin: true });
    assert.equal((await ask("/v2/_catalog", host(erin.token))).status, 403);
    const listed = await ask("/v2/_catalog", host(root.token));
    assert.equal(listed.status, 200);
    assert.deepEqual(JSON.parse(listed.body.toString()), { repositories: ["library/app"] });
  });
});

describe("per-user quotas", () => {
  async function setQuota(body: Record<string, unknown>) {
    const res = await request(`${m.url}/admin/users/quota`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = (await res.body.json()) as Record<string, unknown>;
    return { status: res.statusCode, answer };
  }

  it("answers 429 TOOMANYREQUESTS with Retry-After over requests a minute, for that user only", async () => {
    const frank = await addUser(m.url, "frank");
    const grace = await addUser(m.url, "grace");
    const set = await setQuota({ name: "frank", requestsPerMinute: 3 });
    assert.equal(set.status, 200);
    assert.deepEqual((set.answer.user as { quota: unknown }).quota, { requestsPerMinute: 3, bytesPerDay: 0 });
    for (let i = 0; i < 3; i++) assert.equal((await ask("/v2/", host(frank.token))).status, 200);
    const limited = await ask("/v2/library/app/manifests/latest", host(frank.token));
    assert.equal(limited.status, 429);
    assert.equal(limited.code, "TOOMANYREQUESTS");
    assert.ok(Number(limited.retryAfter) >= 1 && Number(limited.retryAfter) <= 20, limited.retryAfter);
    assert.equal((await ask("/v2/", host(grace.token))).status, 200);
  });

  it("answers 429 once the day's bytes are used, until the next UTC day", async () => {
    const heidi = await addUser(m.url, "heidi");
    assert.equal((await setQuota({ name: "heidi", bytesPerDay: "1KiB" })).status, 200);
    const blob = await ask(`/v2/library/app/blobs/${layer}`, host(heidi.token));
    assert.equal(blob.status, 200, "the request that crosses the quota is served whole");
    assert.equal(blob.body.length, LAYER.length);
    await recorded("heidi", 1);
    const limited = await ask(`/v2/library/app/blobs/${layer}`, host(heidi.token));
    assert.equal(limited.status, 429);
    const untilMidnight = Math.ceil((86_400_000 - (Date.now() % 86_400_000)) / 1000);
    assert.ok(Math.abs(Number(limited.retryAfter) - untilMidnight) <= 2, limited.retryAfter);
    assert.equal((await setQuota({ name: "heidi", bytesPerDay: null })).status, 200);
    assert.equal((await ask("/v2/", host(heidi.token))).status, 200, "back to the default: no limit");
    const bad = await setQuota({ name: "heidi", bytesPerDay: "lots" });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.answer), /bytesPerDay: expected a size/);
  });

  it("counts each user's requests, pulls and bytes, and shows them to that user", async () => {
    const ivan = await addUser(m.url, "ivan");
    const answers = [
      await ask("/v2/", host(ivan.token)),
      await ask("/v2/library/app/manifests/latest", host(ivan.token), "HEAD"),
      await ask(`/v2/library/app/manifests/${manifest}`, host(ivan.token)),
      await ask(`/v2/library/app/blobs/${layer}`, host(ivan.token)),
    ];
    const bytes = answers.reduce((n, a) => n + a.body.length, 0);
    assert.ok(bytes > LAYER.length);
    await recorded("ivan", 4);
    const c = new ApiClient(m.url);
    await c.signIn("ivan", ivan.password);
    const stats = await c.get("/api/me/stats?days=7");
    assert.equal(stats.status, 200);
    const today = stats.body.today as { day: string };
    assert.deepEqual(today, { day: today.day, requests: 4, pulls: 1, bytes });
    assert.equal(stats.body.user, "ivan");
    assert.equal((await c.get("/api/me/stats?days=1000")).status, 400);
    // The service's figures count accounts, and the users who made requests in the range.
    const service = await ask("/api/stats?range=24h");
    assert.equal(service.status, 200);
    const users = (JSON.parse(service.body.toString()) as { users: { registered: number; active: number } })
      .users;
    const accounts = await m.meta.users.listUsers();
    assert.equal(users.registered, accounts.length);
    assert.ok(users.active >= 1 && users.active <= accounts.length, JSON.stringify(users));
  });
});
