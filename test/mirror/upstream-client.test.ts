import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { parseConfig } from "../../src/config/load.js";
import { RegistryError } from "../../src/errors/oci-errors.js";
import { Metrics } from "../../src/metrics/metrics.js";
import type { Digest } from "../../src/reference/reference.js";
import { RegistryClient } from "../../src/upstream/registry-client.js";
import { Upstream } from "../../src/upstream/upstream.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { startInProcessMirror } from "../fakes/mirror.js";

/** A forward proxy that only tunnels (CONNECT), counting tunnels per target. */
async function startTunnelProxy(): Promise<{ url: string; tunnels: string[]; server: Server }> {
  const tunnels: string[] = [];
  const server = createServer((_req, res) => res.writeHead(405).end());
  server.on("connect", (req, client, head) => {
    tunnels.push(String(req.url));
    const [host, port] = String(req.url).split(":");
    const upstream = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tunnels, server };
}

describe("upstream client", () => {
  let hub: FakeHub;
  before(async () => {
    hub = await new FakeHub().start();
  });
  after(() => hub.stop());

  it("sends account credentials to the token server only", async () => {
    const mirror = await startInProcessMirror(hub.url, {
      upstream: { username: "user", password: "secret" },
    });
    try {
      const digest = hub.addBlob(randomBytes(100));
      assert.equal((await mirror.text(`/v2/library/cred/blobs/${digest}`)).status, 200);
      const expected = `Basic ${Buffer.from("user:secret").toString("base64")}`;
      assert.equal(hub.tokenRequests.at(-1)?.authorization, expected);
      assert.match(String(hub.tokenRequests.at(-1)?.query), /scope=repository%3Alibrary%2Fcred%3Apull/);
      const registryAuth = hub.requests.filter((r) => !r.cdn).map((r) => r.authorization);
      assert.ok(
        registryAuth.every((a) => a?.startsWith("Bearer ")),
        "the registry sees only the bearer token",
      );
    } finally {
      await mirror.stop();
    }
  });

  it("reaches the upstream through a configured HTTP proxy, CDN included", async () => {
    const proxy = await startTunnelProxy();
    const mirror = await startInProcessMirror(hub.url, { upstream: { proxy: proxy.url } });
    try {
      const content = randomBytes(1 << 20);
      const digest = hub.addBlob(content);
      const res = await mirror.text(`/v2/library/proxied/blobs/${digest}`);
      assert.ok(res.body.equals(content));
      const hosts = new Set(proxy.tunnels);
      assert.ok(hosts.has(new URL(hub.url).host), "registry traffic went through the proxy");
      assert.ok(hosts.has(new URL(hub.cdnUrl).host), "CDN traffic went through the proxy");
    } finally {
      await mirror.stop();
      proxy.server.closeAllConnections();
      proxy.server.close();
    }
  });

  it("keeps one token per scope until it nears expiry", async () => {
    const mirror = await startInProcessMirror(hub.url);
    try {
      const before = hub.tokenRequests.length;
      const digests = [randomBytes(10), randomBytes(11), randomBytes(12)].map((b) => hub.addBlob(b));
      await Promise.all(digests.map((d) => mirror.text(`/v2/library/scoped/blobs/${d}`)));
      await mirror.text(`/v2/library/other-scope/blobs/${digests[0]}`);
      await mirror.text(`/v2/library/other-scope/manifests/${digests[0]}`);
      assert.equal(hub.tokenRequests.length - before, 2, "one token for each of the two scopes");
    } finally {
      await mirror.stop();
    }
  });
});

describe("upstream operations", () => {
  let hub: FakeHub;
  const upstreams: Upstream[] = [];
  const open = (url: string) => {
    const options = parseConfig({ upstream: { url, retries: 1 } }).upstream;
    const u = new Upstream(new RegistryClient(options, new Metrics(), pino({ level: "silent" })));
    upstreams.push(u);
    return u;
  };
  before(async () => {
    hub = await new FakeHub().start();
  });
  after(async () => {
    await Promise.all(upstreams.map((u) => u.client.close()));
    await hub.stop();
  });

  it("fails a blob body at once when its signal aborts mid-body, and fetches no more", async () => {
    const upstream = open(hub.url);
    const digest = hub.addBlob(randomBytes(4 << 20)) as Digest;
    hub.throttle = 1 << 20;
    try {
      const ac = new AbortController();
      const blob = await upstream.openBlob("library/abort", digest, 0, ac.signal);
      const chunks = blob.body[Symbol.asyncIterator]();
      await chunks.next();
      const fetches = hub.requests.length;
      ac.abort();
      const started = Date.now();
      await assert.rejects(chunks.next(), { name: "AbortError" });
      assert.ok(Date.now() - started < 500, "rejected promptly");
      await sleep(100);
      assert.equal(hub.requests.length, fetches);
    } finally {
      hub.throttle = 0;
    }
  });

  it("sends nothing for an already aborted signal, token fetch included", async () => {
    const upstream = open(hub.url);
    hub.addManifest(
      "library/aborted",
      { schemaVersion: 2 },
      "application/vnd.oci.image.manifest.v1+json",
      "v1",
    );
    const seen = hub.requests.length + hub.tokenRequests.length;
    await assert.rejects(upstream.getManifest("library/aborted", "v1", AbortSignal.abort()), {
      name: "AbortError",
    });
    assert.equal(hub.requests.length + hub.tokenRequests.length, seen);
    assert.equal(
      (await upstream.headManifest("library/aborted", "v1")).mediaType,
      "application/vnd.oci.image.manifest.v1+json",
    );
  });

  it("maps a 429 to TOOMANYREQUESTS with a Retry-After, and a dead upstream to UPSTREAM_UNAVAILABLE", async () => {
    hub.inject({ path: /\/manifests\//, fault: { kind: "status", status: 429 }, times: 1 });
    await assert.rejects(
      open(hub.url).headManifest("library/limited", "v1"),
      (err) =>
        err instanceof RegistryError && err.code === "TOOMANYREQUESTS" && err.headers["Retry-After"] === "10",
    );
    await assert.rejects(
      open("http://127.0.0.1:1").getTags("library/gone", ""),
      (err) => err instanceof RegistryError && err.code === "UPSTREAM_UNAVAILABLE",
    );
  });
});
