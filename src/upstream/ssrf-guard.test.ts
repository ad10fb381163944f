import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fetchVia, quietLog, reply, type TestServer, testServer } from "../../test/fakes/test-upstream.js";
import { RegistryError } from "../errors/oci-errors.js";
import { Metrics } from "../metrics/metrics.js";
import { isPrivateAddress } from "./ssrf-guard.js";
import { createTransport, type Transport, type UpstreamOptions } from "./transport.js";

/** The hostile target: an HTTP server on 127.0.0.2 (another host than the upstream's) counting accepted sockets. */
interface Hostile {
  url: string;
  connections: number;
  authorizations: (string | undefined)[];
  server: Server;
}

async function hostileServer(): Promise<Hostile> {
  const h: Hostile = { url: "", connections: 0, authorizations: [], server: createServer() };
  h.server.on("connection", () => h.connections++);
  h.server.on("request", (req, res) => {
    h.authorizations.push(req.headers.authorization);
    reply(res, 200, {}, JSON.stringify({ token: "evil" }));
  });
  await new Promise<void>((ok) => h.server.listen(0, "127.0.0.2", ok));
  h.url = `http://127.0.0.2:${(h.server.address() as AddressInfo).port}`;
  return h;
}

const SCOPE = "repository:r:pull";
const notAllowed = (what: RegExp) => (err: unknown) =>
  err instanceof RegistryError &&
  err.code === "UPSTREAM_ERROR" &&
  err.status === 502 &&
  what.test(err.message);

describe("SSRF guards", () => {
  let hostile: Hostile;
  let registry: TestServer;
  const transports: Transport[] = [];

  before(async () => {
    hostile = await hostileServer();
    registry = await testServer((req, res, url) => {
      if (url.pathname === "/token") return reply(res, 200, {}, JSON.stringify({ token: "good" }));
      if (url.pathname.startsWith("/v2/hostile-realm/")) {
        return reply(res, 401, { "www-authenticate": `Bearer realm="${hostile.url}/token"` });
      }
      if (req.headers.authorization !== "Bearer good") {
        return reply(res, 401, { "www-authenticate": `Bearer realm="${registry.url}/token"` });
      }
      const to = url.pathname.endsWith("/by-name")
        ? hostile.url.replace("127.0.0.2", "localhost")
        : hostile.url;
      reply(res, 307, { location: `${to}/blob` });
    });
  });
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await registry.close();
    hostile.server.closeAllConnections();
    hostile.server.close();
  });

  const open = (o: Partial<UpstreamOptions> = {}) => {
    const base = { registry: "hub", url: registry.url, connectTimeout: 2_000, headersTimeout: 5_000 };
    const t = createTransport(
      { ...base, bodyTimeout: 5_000, retries: 1, username: "u", password: "secret", ...o },
      { metrics: new Metrics(), log: quietLog, backoff: { baseMs: 1, maxMs: 1 } },
    );
    transports.push(t);
    return t;
  };
  const get = (t: Transport, path: string) =>
    fetchVia(t.dispatcher, `${registry.url}/v2/${path}`, { scope: SCOPE, kind: "blob" });

  it("never contacts a token realm on a host that isn't configured", async () => {
    await assert.rejects(get(open(), "hostile-realm/blobs/x"), notAllowed(/token realm not allowed/));
    assert.equal(hostile.connections, 0);
    // Configured, the same realm is used (with the account's credentials, as intended).
    const res = await get(open({ tokenRealms: [hostile.url] }), "hostile-realm/blobs/x");
    assert.equal(res.status, 401, "the registry refuses the hostile token");
    assert.equal(hostile.connections, 1);
    hostile.connections = 0;
    hostile.authorizations.length = 0;
  });

  it("refuses a redirect to a private address on another host, by address or by name, unless allowed", async () => {
    const t = open();
    await assert.rejects(get(t, "r/blobs/x"), notAllowed(/private address refused: 127\.0\.0\.2/));
    await assert.rejects(get(t, "r/blobs/by-name"), notAllowed(/private address refused: localhost/));
    assert.equal(hostile.connections, 0);

    const res = await get(open({ allowPrivateRedirects: true }), "r/blobs/x");
    assert.equal(res.status, 200);
    assert.equal(hostile.connections, 1);
    assert.deepEqual(hostile.authorizations, [undefined], "no credentials follow a cross-origin redirect");
  });

  it("classifies private, loopback and link-local addresses", () => {
    for (const a of ["10.1.2.3", "172.31.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "0.0.0.0"]) {
      assert.ok(isPrivateAddress(a), a);
    }
    for (const a of ["::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::"])
      assert.ok(isPrivateAddress(a), a);
    for (const a of ["8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:1.1.1.1"]) {
      assert.ok(!isPrivateAddress(a), a);
    }
  });
});
