import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { after, before, describe, it } from "node:test";
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
