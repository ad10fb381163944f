import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { fetchVia, quietLog, reply, type TestServer, testServer } from "../../test/fakes/test-upstream.js";
import { Metrics } from "../metrics/metrics.js";
import { CredentialPool, DEFAULT_COOLDOWN_MS, type Member } from "./credential-pool.js";
import { createTransport, type Transport } from "./transport.js";

/** What the registry answers each account ("anonymous" included): a status, and the quota it reports. */
interface Account {
  status: number;
  remaining?: number;
}

const SCOPE = "repository:r:pull";
const creds = (...names: string[]) => names.map((username) => ({ username, password: `pw-${username}` }));

describe("credential pool", () => {
  let registry: TestServer;
  let accounts: Record<string, Account> = {};
  /** Accounts the token server itself refuses with 429. */
  let tokenRefused = new Set<string>();
  let transports: Transport[] = [];
  /** Who each request on the registry was sent as, in order (the 401s of the token dance left out). */
  const sentAs = () =>
    registry.seen
      .filter((r) => r.path.startsWith("/v2/") && r.authorization)
      .map((r) => r.authorization?.slice(11));

  before(async () => {
    registry = await testServer((req, res, url) => {
      if (url.pathname === "/token") {
        const basic = req.headers.authorization?.replace(/^Basic /, "");
        const user = basic ? Buffer.from(basic, "base64").toString().split(":")[0] : "anonymous";
        if (tokenRefused.has(user as string)) return reply(res, 429, { "retry-after": "120" }, "slow down");
        return reply(res, 200, {}, JSON.stringify({ token: `tok-${user}`, expires_in: 300 }));
      }
      const user = /^Bearer tok-(.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const account = user ? accounts[user] : undefined;
      if (!account) return reply(res, 401, { "www-authenticate": `Bearer realm="${registry.url}/token"` });
      const quota: Record<string, string> = { "ratelimit-limit": "100;w=3600" };
      if (account.remaining !== undefined) quota["ratelimit-remaining"] = `${account.remaining};w=3600`;
      reply(res, account.status, quota, `hello ${user}`);
    });
  });
  beforeEach(() => {
    registry.seen.length = 0;
  });
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    transports = [];
    await registry.close();
  });

  const open = (names: string[], metrics = new Metrics()) => {
    const o = { registry: "hub", url: registry.url, connectTimeout: 2_000, headersTimeout: 5_000 };
    const t = createTransport(
      { ...o, bodyTimeout: 5_000, retries: 0, credentials: creds(...names) },
      {
        metrics,
        log: quietLog,
      },
    );
    transports.push(t);
    return t;
  };
  const get = (t: Transport) =>
    fetchVia(t.dispatcher, `${registry.url}/v2/r/manifests/x`, { scope: SCOPE, kind: "manifest" });

  it("after a 429 the request goes again as another account, and the refused one rests", async () => {
    accounts = { busy: { status: 429 }, free: { status: 200, remaining: 40 }, anonymous: { status: 200 } };
    const metrics = new Metrics();
    const t = open(["busy", "free"], metrics);
    assert.deepEqual(await get(t), { status: 200, body: "hello free" });
    assert.deepEqual(sentAs(), ["busy", "free"]);
    assert.ok(t.pool.cooling("busy"));
    assert.equal(t.state(), "up");

    for (let i = 0; i < 3; i++) assert.equal((await get(t)).body, "hello free");
    assert.deepEqual(sentAs().slice(2), ["free", "free", "free"], "the resting account is not used again");

    const labels = (credential: string) => ({ registry: "hub", credential });
    assert.equal(await metrics.value("hubmirror_upstream_credential_429_total", labels("busy")), 1);
    assert.equal(await metrics.value("hubmirror_upstream_credential_ratelimit_remaining", labels("busy")), 0);
    assert.equal(
      await metrics.value("hubmirror_upstream_credential_ratelimit_remaining", labels("free")),
      40,
    );
    const text = await metrics.registry.metrics();
    assert.ok(!text.includes("pw-"), "no password in /metrics");
  });

  it("a 429 from the token server rests the account too, and the request goes as another", async () => {
    accounts = { free: { status: 200, remaining: 10 }, anonymous: { status: 200 } };
    tokenRefused = new Set(["tokenbusy"]);
    try {
      const t = open(["tokenbusy", "free"]);
      assert.deepEqual(await get(t), { status: 200, body: "hello free" });
      assert.ok(t.pool.cooling("tokenbusy"));
    } finally {
      tokenRefused = new Set();
    }
  });

  it("rests until Retry-After, else the end of the ratelimit-limit window, else a default", () => {
    let now = 1_000_000;
    const pool = new CredentialPool(creds("a"), "hub", new Metrics(), () => now);
    const a = pool.pick() as Member;
    const restsFor = (headers: Record<string, string>) => {
      pool.cool(a, headers);
      return a.coolUntil - now;
    };
    assert.equal(restsFor({ "ratelimit-limit": "100;w=3600" }), 3_600_000);
    assert.equal(restsFor({ "retry-after": "7", "ratelimit-limit": "100;w=3600" }), 7_000);
    assert.equal(restsFor({}), DEFAULT_COOLDOWN_MS);
    assert.equal(pool.pick(), pool.anonymous);
    now += DEFAULT_COOLDOWN_MS;
    assert.equal(pool.pick(), a, "usable again once its window is over");
  });

  it("goes anonymous when every account rests, and reports limited when anonymous is refused too", async () => {
    accounts = { a: { status: 429 }, b: { status: 429 }, anonymous: { status: 200 } };
    const metrics = new Metrics();
    const t = open(["a", "b"], metrics);
    assert.deepEqual(await get(t), { status: 200, body: "hello anonymous" });
    assert.deepEqual(sentAs(), ["a", "b", "anonymous"]);
    assert.equal(t.state(), "up");

    accounts.anonymous = { status: 429 };
    assert.equal((await get(t)).status, 429, "the last refusal goes up");
    assert.deepEqual(sentAs().slice(3), ["anonymous"], "the resting accounts are skipped");
    assert.equal(t.state(), "limited");
    assert.equal(await metrics.value("hubmirror_upstream_state", { registry: "hub" }), 2);
  });

  it("prefers the account with the most quota left, once known; unknown ones are tried first", async () => {
    accounts = { low: { status: 200, remaining: 5 }, high: { status: 200, remaining: 50 } };
    const t = open(["low", "high"]);
    for (let i = 0; i < 5; i++) await get(t);
    assert.deepEqual(sentAs(), ["low", "high", "high", "high", "high"]);
    accounts.high = { status: 200, remaining: 3 };
    await get(t);
    await get(t);
    assert.deepEqual(sentAs().slice(5), ["high", "low"], "high reported 3 < 5: low is preferred again");
  });
});
