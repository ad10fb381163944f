import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { request } from "undici";
import { parseConfig } from "../config/load.js";
import { RegistryError } from "../errors/oci-errors.js";
import { SqliteStore } from "../metadata/sqlite-store.js";
import type { RepoKey } from "../metadata/store.js";
import { Metrics } from "../metrics/metrics.js";
import { ProxyTagStore } from "../proxy/proxy-tag-store.js";
import type { RepoRef } from "../proxy/repo-links.js";
import { Stats } from "../stats/stats.js";
import type { Upstream } from "../upstream/upstream.js";
import { UpstreamSet } from "../upstream/upstreams.js";
import { compose } from "./compose.js";
import type { Services } from "./context.js";
import { createRegistryServer } from "./server.js";

it("composes middleware as an onion", async () => {
  const trace: string[] = [];
  const layer = (name: string) => async (ctx: string[], next: (ctx: string[]) => Promise<void>) => {
    ctx.push(`${name} in`);
    await next(ctx);
    ctx.push(`${name} out`);
  };
  const run = compose([layer("a"), layer("b")], async (ctx) => void ctx.push("handler"));
  await run(trace);
  assert.deepEqual(trace, ["a in", "b in", "handler", "b out", "a out"]);
});

describe("request pipeline", () => {
  const resolved: string[] = [];
  const keys: RepoKey[] = [];
  const meta = new SqliteStore(":memory:");
  // Only what the tags and referrers handlers call; the proxy stores below never reach upstream.
  const listing: Pick<Upstream, "getTags" | "getReferrers"> = {
    getTags: async (repo) => ({
      body: Buffer.from(JSON.stringify({ name: repo, tags: ["1"] })),
      link: undefined,
    }),
    getReferrers: async () => undefined,
  };
  const upstream = listing as Upstream;
  const notHere = async ({ key }: RepoRef): Promise<never> => {
    keys.push(key);
    throw new RegistryError("MANIFEST_UNKNOWN");
  };
  const set = new UpstreamSet([{ settings: parseConfig({}).upstream, upstream }]);
  const metrics = new Metrics();
  const s: Services = {
    blobs: { stat: notHere, get: notHere },
    manifests: { byDigest: notHere, byTag: notHere },
    tags: new ProxyTagStore(meta),
    meta,
    upstreams: {
      resolve: (ns, host, name) => {
        resolved.push(ns ?? "default");
        return set.resolve(ns, host, name);
      },
      registryOf: (ns, host) => set.registryOf(ns, host),
    },
    metrics,
    stats: new Stats({ meta, downloads: () => [], upstreams: [], metrics, maxSize: undefined }),
    mayRedirect: () => true,
  };
  const server = createRegistryServer(s, pino({ level: "silent" }));
  let url = "";
  before(async () => {
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((ok) => server.close(ok));
    await meta.close();
  });

  async function call(path: string, method: "GET" | "HEAD" | "PUT" = "GET") {
    resolved.length = 0;
    keys.length = 0;
    const res = await request(`${url}${path}`, { method });
    const text = await res.body.text();
    const code = text && res.statusCode >= 400 ? JSON.parse(text).errors[0].code : undefined;
    return { status: res.statusCode, headers: res.headers, text, code };
  }

  it("resolves the upstream once per repository request, and the key with library/ added", async () => {
    const tags = await call("/v2/alpine/tags/list");
    assert.deepEqual(JSON.parse(tags.text), { name: "library/alpine", tags: ["1"] });
    assert.deepEqual(resolved, ["default"]);
    await call("/v2/alpine/manifests/latest");
    assert.deepEqual(resolved, ["default"]);
    assert.deepEqual(keys, [{ registry: "docker.io", repo: "library/alpine" }]);
    await call("/v2/");
    assert.deepEqual(resolved, [], "not for routes outside a repository");
  });

  it("answers an unknown ?ns= with NAME_UNKNOWN before it looks at the name", async () => {
    const res = await call("/v2/NOT..VALID/manifests/latest?ns=quay.io");
    assert.equal(res.status, 404);
    assert.equal(res.code, "NAME_UNKNOWN");
    assert.deepEqual(resolved, ["quay.io"]);
  });

  it("refuses writes and unrouted methods, and labels every answer with the API version", async () => {
    for (const [path, method, status, code] of [
      ["/v2/x/manifests/latest", "PUT", 405, "UNSUPPORTED"],
      ["/metrics", "PUT", 405, "UNSUPPORTED"],
      [`/v2/x/referrers/sha256:${"a".repeat(64)}`, "HEAD", 405, undefined],
      ["/v2/x/blobs/uploads/", "GET", 405, "UNSUPPORTED"],
      ["/v2/x/nothing/here", "GET", 404, "NOT_FOUND"],
    ] as const) {
      const res = await call(path, method);
      assert.equal(res.status, status, `${method} ${path}`);
      assert.equal(res.code, code, `${method} ${path}`);
      assert.equal(res.headers["docker-distribution-api-version"], "registry/2.0");
      assert.deepEqual(resolved, [], "refused before the upstream is resolved");
    }
  });
});
