import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Dispatcher } from "undici";
import {
  fetchVia,
  quietLog,
  reply,
  type TestServer,
  testAgent,
  testServer,
} from "../../test/fakes/test-upstream.js";
import { Metrics } from "../metrics/metrics.js";
import { tokenAuth } from "./auth-interceptor.js";
import { CredentialPool } from "./credential-pool.js";
import { type Credentials, TokenAuth } from "./token-auth.js";

const scope = (repo: string) => `repository:${repo}:pull`;

/** The auth interceptor alone, over a fresh pool, for the registry at `url`. */
function authClient(url: string, credentials: Credentials[] = [], realms: string[] = []): Dispatcher {
  const agent = testAgent();
  const allowed = new Set([new URL(url).origin, ...realms]);
  const auth = new TokenAuth(agent, quietLog, 5_000, (realm) => allowed.has(realm.origin), 1 << 20);
  return agent.compose(tokenAuth(url, auth, new CredentialPool(credentials, "hub", new Metrics())));
}

describe("token auth interceptor", () => {
  let registry: TestServer;
  let other: TestServer;
  const tokenFetches = new Map<string, number>();
  let tokenDelayMs = 0;
  const registryHits = (repo: string) => registry.seen.filter((r) => r.path.startsWith(`/v2/${repo}/`));

  before(async () => {
    registry = await testServer(async (req, res, url) => {
      if (url.pathname === "/token") {
        const s = url.searchParams.get("scope") ?? "";
        tokenFetches.set(s, (tokenFetches.get(s) ?? 0) + 1);
        await sleep(tokenDelayMs);
        return reply(res, 200, {}, JSON.stringify({ token: `tok-${s}`, expires_in: 300 }));
      }
      const repo = /^\/v2\/(.+?)\/manifests\//.exec(url.pathname)?.[1] ?? "";
      // "denied" refuses every token, as a registry does for a scope the account may not pull.
      if (repo !== "denied" && req.headers.authorization === `Bearer tok-${scope(repo)}`) {
        return reply(res, 200, {}, "ok");
      }
      reply(res, 401, { "www-authenticate": `Bearer realm="${registry.url}/token",service="svc"` });
    });
    other = await testServer((_req, res) => reply(res, 200, {}, "other"));
  });
  after(async () => {
    await registry.close();
    await other.close();
  });

  const client = () => authClient(registry.url);

  it("fetches a token after the 401, then keeps one per scope shared by concurrent requests", async () => {
    const d = client();
    const get = (repo: string) =>
      fetchVia(d, `${registry.url}/v2/${repo}/manifests/x`, { scope: scope(repo) });
    assert.deepEqual(await get("a"), { status: 200, body: "ok" });
    assert.deepEqual(
      registryHits("a").map((r) => r.authorization),
      [undefined, `Bearer tok-${scope("a")}`],
      "one 401, then the request again with the token",
    );
    assert.equal((await get("a")).status, 200);
    assert.equal(registryHits("a").length, 3, "the cached token is sent at once");
    const statuses = await Promise.all([get("b"), get("b"), get("b")].map((p) => p.then((r) => r.status)));
    assert.deepEqual(statuses, [200, 200, 200]);
    assert.equal(tokenFetches.get(scope("a")), 1);
    assert.equal(tokenFetches.get(scope("b")), 1, "concurrent requests share one token fetch");
  });

  it("hands up a 401 that a fresh token didn't cure instead of asking again", async () => {
    const res = await fetchVia(client(), `${registry.url}/v2/denied/manifests/x`, { scope: scope("denied") });
    assert.equal(res.status, 401);
    assert.equal(registryHits("denied").length, 2);
  });

  it("sends nothing to another origin", async () => {
    const res = await fetchVia(client(), `${other.url}/v2/a/manifests/x`, { scope: scope("a") });
    assert.equal(res.body, "other");
    assert.equal(other.seen.at(-1)?.authorization, undefined);
  });

  it("sends the account's Basic credentials after a Basic challenge", async () => {
    const basic = `Basic ${Buffer.from("u:p").toString("base64")}`;
    const server = await testServer((req, res) =>
      req.headers.authorization === basic
        ? reply(res, 200, {}, "ok")
        : reply(res, 401, { "www-authenticate": 'Basic realm="r"' }),
    );
    try {
      const d = authClient(server.url, [{ username: "u", password: "p" }]);
      assert.equal((await fetchVia(d, `${server.url}/v2/a/manifests/x`, { scope: scope("a") })).status, 200);
      assert.deepEqual(
        server.seen.map((r) => r.authorization),
        [undefined, basic],
      );
    } finally {
      await server.close();
    }
  });

  it("stops waiting for the token when aborted, and sends nothing more", async () => {
    tokenDelayMs = 400;
    try {
      const ac = new AbortController();
      const started = Date.now();
      const res = fetchVia(client(), `${registry.url}/v2/slow/manifests/x`, {
        scope: scope("slow"),
        signal: ac.signal,
      });
      setTimeout(() => ac.abort(), 50);
      await assert.rejects(res, { name: "AbortError" });
      assert.ok(Date.now() - started < 300, "rejected before the token came");
      await sleep(500);
      assert.equal(registryHits("slow").length, 1, "only the first 401");
    } finally {
      tokenDelayMs = 0;
    }
  });
});
