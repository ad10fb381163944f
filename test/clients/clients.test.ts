// Proves each client harness against a plain Distribution registry acting as the docker.io mirror (a registry
// answering at /v2/ is a valid mirror for all four clients). Run inside the loopback-only namespace:
//   bash test/netns-run.sh node --import tsx --test test/clients/clients.test.ts
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildCatalogue, pushImage } from "../fixtures/images.js";
import {
  type AccessRecord,
  startUpstreamRegistry,
  type UpstreamRegistry,
} from "../fixtures/upstream-registry.js";
import { Containerd } from "./containerd.js";
import { Dockerd } from "./dockerd.js";
import { assertLoopbackOnly } from "./netns.js";
import { Podman } from "./podman.js";
import { removeTree, tempDir } from "./proc.js";
import { Skopeo } from "./skopeo.js";

const MANIFEST_LATEST = "/v2/library/busybox/manifests/latest";
const BLOB = /^\/v2\/library\/busybox\/blobs\/sha256:[0-9a-f]{64}$/;

/** Pushes the fixtures' runnable busybox as library/busybox:latest; returns its manifest digest. */
async function pushBusybox(registryUrl: string): Promise<string> {
  const { busybox } = await buildCatalogue();
  await pushImage(registryUrl, "library/busybox", "latest", busybox);
  return busybox.manifest.digest;
}

describe("container clients against a plain registry as the docker.io mirror", () => {
  let registry: UpstreamRegistry | undefined;
  let dockerd: Dockerd | undefined;
  let containerd: Containerd | undefined;
  let podman: Podman | undefined;
  let skopeo: Skopeo | undefined;
  let scratch = "";
  let pushed = "";

  // Started once for the file; after() stops whatever did start, even when before() failed half-way.
  before(async () => {
    assertLoopbackOnly();
    registry = await startUpstreamRegistry();
    const mirrorUrl = registry.url;
    const starting = [
      Dockerd.start({ mirrorUrl }).then((d) => (dockerd = d)),
      Containerd.start({ mirrorUrl }).then((c) => (containerd = c)),
      Podman.create({ mirrorUrl }).then((p) => (podman = p)),
      Skopeo.create({ mirrorUrl }).then((s) => (skopeo = s)),
      tempDir("clients-test").then((dir) => (scratch = dir)),
      pushBusybox(registry.url).then((digest) => (pushed = digest)),
    ];
    const failed = (await Promise.allSettled(starting)).find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  });

  after(async () => {
    await Promise.allSettled([dockerd?.stop(), containerd?.stop(), podman?.stop(), skopeo?.stop()]);
    await registry?.stop();
    if (scratch) await removeTree(scratch);
  });

  /** The registry's access-log records that `action` caused and whose user agent starts with `agent`. */
  async function requestsDuring(agent: string, action: () => Promise<unknown>): Promise<AccessRecord[]> {
    const reg = registry as UpstreamRegistry;
    const seen = (await reg.accessLog()).length;
    await action();
    return (await reg.accessLog()).slice(seen).filter((r) => r.userAgent.startsWith(agent));
  }

  const summary = (records: AccessRecord[]) =>
    records.map((r) => `${r.method} ${r.path}${r.query ? `?${r.query}` : ""} ${r.status}`);

  test("dockerd pulls `busybox` through the mirror and runs it", async () => {
    const d = dockerd as Dockerd;
    let digest = "";
    const records = await requestsDuring("docker/", async () => (digest = await d.pull("busybox")));
    assert.equal(digest, pushed);
    const seen = summary(records);
    assert.ok(seen.includes("GET /v2/ 200"), seen.join("\n"));
    assert.ok(seen.includes(`HEAD ${MANIFEST_LATEST} 200`), seen.join("\n"));
    assert.ok(seen.includes(`GET /v2/library/busybox/manifests/${pushed} 200`), seen.join("\n"));
    assert.ok(records.some((r) => r.method === "GET" && BLOB.test(r.path)));
    assert.equal(await d.run("busybox", ["echo", "ok"]), "ok");

    // Once removed, a second pull must go to the mirror again.
    await d.removeImage("busybox");
    const again = await requestsDuring("docker/", () => d.pull("busybox"));
    assert.ok(summary(again).includes(`HEAD ${MANIFEST_LATEST} 200`));
  });

  test("containerd (ctr) pulls through hosts.toml with ?ns=docker.io", async () => {
    const c = containerd as Containerd;
    const ref = "docker.io/library/busybox:latest";
    let digest = "";
    const records = await requestsDuring("containerd/", async () => {
      digest = await c.pullViaHostsDir(ref, { allPlatforms: true });
    });
    assert.equal(digest, pushed);
    const seen = summary(records);
    assert.ok(seen.includes(`HEAD ${MANIFEST_LATEST}?ns=docker.io 200`), seen.join("\n"));
    assert.ok(records.some((r) => r.method === "GET" && BLOB.test(r.path) && r.query === "ns=docker.io"));
    assert.ok(
      records.every((r) => r.path !== "/v2/"),
      "containerd sends no /v2/ ping to a hosts.toml mirror",
    );
    // Drop the content so the plain-http pull below has to fetch the blobs too.
    await c.removeImage(ref);
  });

  test("containerd (ctr) pulls over --plain-http directly", async () => {
    const c = containerd as Containerd;
    const ref = `127.0.0.1:${registry?.port}/library/busybox:latest`;
    let digest = "";
    const records = await requestsDuring("containerd/", async () => {
      digest = await c.pullPlainHttp(ref, { platform: "linux/amd64" });
    });
    assert.equal(digest, pushed);
    const seen = summary(records);
    assert.ok(seen.includes(`HEAD ${MANIFEST_LATEST} 200`), seen.join("\n"));
    assert.ok(records.some((r) => r.method === "GET" && BLOB.test(r.path) && r.query === ""));
  });

  test("podman pulls docker.io/library/busybox through the mirror and runs it", async () => {
    const p = podman as Podman;
    let digest = "";
    const records = await requestsDuring("containers/", async () => (digest = await p.pull("busybox")));
    assert.equal(digest, pushed);
    const seen = summary(records);
    assert.ok(seen.includes("GET /v2/ 200"), seen.join("\n"));
    assert.ok(seen.includes(`GET ${MANIFEST_LATEST} 200`), seen.join("\n"));
    assert.ok(records.some((r) => r.method === "GET" && BLOB.test(r.path)));
    assert.equal(await p.run("busybox", ["echo", "ok"]), "ok");

    await p.removeImage("busybox");
    const again = await requestsDuring("containers/", () => p.pull("docker.io/library/busybox:latest"));
    assert.ok(summary(again).includes(`GET ${MANIFEST_LATEST} 200`));
  });

  test("skopeo copies and inspects directly and through the mirror", async () => {
    const s = skopeo as Skopeo;
    const direct = `127.0.0.1:${registry?.port}/library/busybox:latest`;
    let digests: string[] = [];
    const records = await requestsDuring("skopeo/", async () => {
      digests = [
        await s.copyDirect(direct, join(scratch, "direct")),
        await s.copyViaMirror("busybox:latest", join(scratch, "mirror")),
        (await s.inspectDirect(direct)).Digest,
        (await s.inspectViaMirror("docker.io/library/busybox:latest")).Digest,
      ];
    });
    assert.deepEqual(digests, [pushed, pushed, pushed, pushed]);
    const manifestGets = records.filter((r) => r.method === "GET" && r.path === MANIFEST_LATEST);
    assert.equal(manifestGets.length, 4, summary(records).join("\n"));
    assert.ok(
      records.every((r) => !r.path.endsWith("/tags/list")),
      "inspect --no-tags lists no tags",
    );
  });
});
