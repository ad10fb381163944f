// Two upstream registries behind one hubmirror, pulled from by real clients in every routing mode: docker.io (the
// token-auth hub of stack.ts) and registry.b.test (a plain Distribution, also answering as b-mirror.test). Both hold
// `shared/app`, with different content: the caches must never mix. registry.b.test resolves nowhere, so a client
// that bypassed the mirror would fail, and an unconfigured registry is refused without an outbound connection.
//   bash test/netns-run.sh node --import tsx --test test/e2e/many-upstreams.test.ts
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { request } from "undici";
import { resolveToLoopback } from "../clients/netns.js";
import { ConnectionTrap } from "../fakes/connection-trap.js";
import { makeBlobImage, pushImage, type TestImage } from "../fixtures/images.js";
import { startUpstreamRegistry, type UpstreamRegistry } from "../fixtures/upstream-registry.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { Clients, type Hub, startHub } from "./stack.js";

const B = "registry.b.test";
const B_HOST = "b-mirror.test";
const EVIL = "evil.test";
const SERVED = "hubmirror_http_requests_total";
const PER_UPSTREAM = "hubmirror_registry_requests_total";

const renamed = (img: TestImage, repo: string): TestImage => ({ ...img, repo });

let hub: Hub;
let regB: UpstreamRegistry;
let trap: ConnectionTrap;
let mirror: TempMirrorProcess;
let clients: Clients;
/** skopeo's copies, under its dir (deleted with it). */
let copies: string;
/** registry.b.test's images; its `shared/app` is single-platform OCI, the hub's a Docker v2 image. */
let onB: Record<"index" | "list" | "single" | "shared" | "only", TestImage>;
let sharedOnHub: TestImage;
const started: { stop(): Promise<void> }[] = [];

before(
  async () => {
    trap = await new ConnectionTrap().start();
    started.push(trap);
    hub = await startHub();
    started.push(hub);
    regB = await startUpstreamRegistry(); // no auth
    started.push(regB);
    const c = hub.catalogue;
    onB = {
      index: renamed(c["oci-index"], "team/oci-index"),
      list: renamed(c["docker-list"], "team/docker-list"),
      single: renamed(c.busybox, "team/busybox"),
      shared: renamed(c.oci, "shared/app"),
      only: renamed(await makeBlobImage(4096), "team/only-on-b"), // a layer the hub doesn't have
    };
    sharedOnHub = renamed(c["docker-v2"], "shared/app");
    for (const img of Object.values(onB)) await pushImage(regB.url, img.repo, "latest", img);
    await hub.push(sharedOnHub, sharedOnHub.repo);
    await regB.clearAccessLog();
    await hub.registry.clearAccessLog();
    mirror = await startMirrorProcess(hub.registry.url, {
      upstreams: [
        { registry: "docker.io", url: hub.registry.url },
        { registry: B, url: regB.url, hosts: [B_HOST] },
      ],
    });
    started.push(mirror);
    clients = await Clients.start(mirror.process.url, { registries: [B, EVIL] });
    started.push(clients);
    copies = await mkdtemp(join(clients.skopeo.dir, "copies-"));
    started.push({ stop: await resolveToLoopback([B_HOST]) }); // for skopeo, by the name b-mirror.test
  },
  { timeout: 120_000 },
);
after(async () => {
  for (const part of started.reverse()) await part.stop();
});

/** GETs answered 200 by hubmirror, and its requests for `registry`, by route. */
async function counters(registry: string) {
  const m = (name: string, labels: Record<string, string>) => mirror.process.metric(name, labels);
  return {
    manifests: await m(SERVED, { method: "GET", route: "manifests", status: "200" }),
    blobs: await m(SERVED, { method: "GET", route: "blobs", status: "200" }),
    upstreamManifests: await m(PER_UPSTREAM, { registry, route: "manifests" }),
    upstreamBlobs: await m(PER_UPSTREAM, { registry, route: "blobs" }),
  };
}

/** Runs `pull`, asserts it reported `img`'s digest and that hubmirror served manifests and blobs for `registry`. */
async function served(registry: string, img: TestImage, pull: () => Promise<string>): Promise<string> {
  const before = await counters(registry);
  const digest = await pull();
  const after = await counters(registry);
  assert.equal(digest, img.manifest.digest, `${registry}/${img.repo}: pulled digest`);
  for (const key of Object.keys(before) as (keyof typeof before)[])
    assert.ok(after[key] > before[key], `${registry}/${img.repo}: hubmirror served ${key}`);
  return digest;
}

const sha256 = (body: Buffer) => `sha256:${createHash("sha256").update(body).digest("hex")}`;

/** A GET of hubmirror with `Host: b-mirror.test` (what a client pulling `b-mirror.test:PORT/…` sends). */
async function getByHost(path: string, accept: string): Promise<Buffer> {
  const res = await request(`${mirror.process.url}${path}`, {
    headers: { host: `${B_HOST}:${mirror.process.port}`, accept },
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  assert.equal(res.statusCode, 200, `${path}: ${body}`);
  return body;
}

describe("many upstreams on one port, with real clients", { timeout: 300_000 }, () => {
  test("(a) containerd hosts.toml for registry.b.test (?ns=registry.b.test)", async () => {
    for (const img of [onB.index, onB.shared]) {
      const ref = `${B}/${img.repo}:latest`;
      await served(B, img, () => clients.containerd.pullViaHostsDir(ref));
      await clients.containerd.removeImage(ref);
    }
  });

  test("(b) podman and skopeo through the path prefix 127.0.0.1:PORT/registry.b.test", async () => {
    for (const img of [onB.list, onB.shared]) {
      const ref = `${B}/${img.repo}:latest`;
      await served(B, img, () => clients.podman.pull(ref));
      await clients.podman.removeImage(ref);
    }
    for (const img of [onB.single, onB.shared]) {
      const dest = join(copies, img.repo.replaceAll("/", "-"));
      await served(B, img, () => clients.skopeo.copyViaMirror(`${B}/${img.repo}:latest`, dest));
    }
  });

  test("(c) Host: b-mirror.test routes to registry.b.test: skopeo by that name, and raw GETs", async () => {
    const img = onB.shared;
    const ref = `${B_HOST}:${mirror.process.port}/${img.repo}:latest`;
    await served(B, img, () => clients.skopeo.copyDirect(ref, join(copies, "by-host")));
    await served(B, img, async () => {
      const manifest = await getByHost(`/v2/${img.repo}/manifests/latest`, img.manifest.mediaType);
      const layer = img.blobs.at(-1);
      assert.ok(layer);
      assert.equal(sha256(await getByHost(`/v2/${img.repo}/blobs/${layer.digest}`, "*/*")), layer.digest);
      return sha256(manifest);
    });
  });

  test("(d) dockerd registry-mirrors: docker.io short names, with two upstreams configured", async () => {
    const { busybox } = hub.catalogue;
    await served("docker.io", busybox, () => clients.dockerd.pull("busybox"));
    assert.equal(await clients.dockerd.run("busybox", ["echo", "ok"]), "ok");
    await served("docker.io", sharedOnHub, () => clients.dockerd.pull(sharedOnHub.repo));
    await clients.dockerd.removeImage("busybox");
  });

  test("shared/app: one name on two upstreams, two digests, both caches intact", async () => {
    assert.notEqual(onB.shared.manifest.digest, sharedOnHub.manifest.digest);
    // Both are cached now; each client still gets its own upstream's content.
    const ref = `${B}/${onB.shared.repo}:latest`;
    assert.equal(await clients.containerd.pullViaHostsDir(ref), onB.shared.manifest.digest);
    await clients.containerd.removeImage(ref);
    const hubRef = `docker.io/${sharedOnHub.repo}:latest`;
    assert.equal(await clients.containerd.pullViaHostsDir(hubRef), sharedOnHub.manifest.digest);
    await clients.containerd.removeImage(hubRef);
    const byHost = await getByHost(`/v2/${onB.shared.repo}/manifests/latest`, onB.shared.manifest.mediaType);
    assert.equal(sha256(byHost), onB.shared.manifest.digest);
    // A blob cached from registry.b.test is not served as docker.io's: the hub is asked, and has none.
    const layer = onB.only.blobs.at(-1)?.digest;
    assert.equal(sha256(await getByHost(`/v2/${onB.only.repo}/blobs/${layer}`, "*/*")), layer);
    const res = await request(`${mirror.process.url}/v2/${onB.only.repo}/blobs/${layer}?ns=docker.io`);
    assert.equal(res.statusCode, 404);
    assert.match(await res.body.text(), /BLOB_UNKNOWN/);
  });

  test("an unconfigured registry is refused, and nothing is dialled", async () => {
    await mirror.process.settled();
    const upstreamLogs = async () => [
      (await regB.accessLog()).length,
      (await hub.registry.accessLog()).length,
      hub.tokens.requests.length,
    ];
    const before = await upstreamLogs();
    const refused = () => mirror.process.metric(SERVED, { method: "GET", route: "manifests", status: "404" });
    const refusedBefore = await refused();
    // skopeo asks the mirror for /v2/evil.test/…, gets 404, then falls back to evil.test, which resolves nowhere.
    await assert.rejects(
      clients.skopeo.copyViaMirror(`${EVIL}/${onB.single.repo}:latest`, join(copies, "evil")),
    );
    assert.ok((await refused()) > refusedBefore, "skopeo's request reached hubmirror");
    // The same through ns and a prefix naming a listener that counts connections.
    for (const path of [
      `/v2/library/busybox/manifests/latest?ns=${trap.host}`,
      `/v2/${trap.host}/library/busybox/manifests/latest`,
    ]) {
      const res = await request(`${mirror.process.url}${path}`);
      const body = await res.body.text();
      assert.equal(res.statusCode, 404, `${path}: ${body}`);
      assert.match(body, /NAME_UNKNOWN/);
    }
    assert.equal(trap.accepted, 0);
    assert.deepEqual(await upstreamLogs(), before);
  });
});
