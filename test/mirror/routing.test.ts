import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConnectionTrap } from "../fakes/connection-trap.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { errorCode } from "../helpers.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const manifest = (from: string) => ({ schemaVersion: 2, mediaType: DOCKER, from });

/** docker.io and a.example on hub A, b.example on hub B: the same names with different content. */
describe("routing many upstreams on one port", () => {
  let hubA: FakeHub;
  let hubB: FakeHub;
  let trap: ConnectionTrap;
  let mirror: InProcessMirror;
  before(async () => {
    [hubA, hubB, trap] = await Promise.all([
      new FakeHub().start(),
      new FakeHub().start(),
      new ConnectionTrap().start(),
    ]);
    hubA.addManifest("library/alpine", manifest("a:alpine"), DOCKER, "latest");
    hubA.addManifest("team/app", manifest("a:team/app"), DOCKER, "v1");
    hubB.addManifest("team/app", manifest("b:team/app"), DOCKER, "v1");
    hubB.addManifest("team/app", manifest("b:team/app:v2"), DOCKER, "v2");
    hubB.addManifest("secret/x", manifest("b:secret"), DOCKER, "v1");
    mirror = await startInProcessMirror(hubA.url, {
      // Every docker.io and a.example tag is revalidated; b.example's are kept for an hour.
      cache: { tagTtl: 0 },
      upstreams: [
        { registry: "a.example", url: hubA.url },
        {
          registry: "b.example",
          url: hubB.url,
          hosts: ["b.mirror.example"],
          deny: ["secret/**"],
          tagTtl: "1h",
        },
      ],
    });
  });
  after(async () => {
    await mirror.stop();
    await Promise.all([hubA.stop(), hubB.stop(), trap.stop()]);
  });

  async function from(path: string, headers: Record<string, string> = {}): Promise<string> {
    const res = await mirror.text(path, headers);
    assert.equal(res.status, 200, `${path}: ${res.body}`);
    return JSON.parse(res.body.toString()).from;
  }

  it("keeps the same repository name on two upstreams apart, cold and warm", async () => {
    for (let round = 0; round < 2; round++) {
      assert.equal(await from("/v2/team/app/manifests/v1?ns=a.example"), "a:team/app");
      assert.equal(await from("/v2/team/app/manifests/v1?ns=b.example"), "b:team/app");
    }
    const catalogB = await mirror.text("/v2/_catalog?ns=b.example");
    assert.deepEqual(JSON.parse(catalogB.body.toString()).repositories, ["team/app"]);
  });

  it("routes a path prefix: docker.io names get library/, other hosts go to theirs", async () => {
    assert.equal(await from("/v2/docker.io/alpine/manifests/latest"), "a:alpine");
    assert.equal(await from("/v2/b.example/team/app/manifests/v1"), "b:team/app");
    assert.equal(await from("/v2/a.example/team/app/manifests/v1"), "a:team/app");
    // containerd's override_path sends both; the prefix naming the ns registry is dropped.
    assert.equal(await from("/v2/b.example/team/app/manifests/v1?ns=b.example"), "b:team/app");
    const blob = Buffer.from("layer on b only");
    const digest = hubB.addBlob(blob);
    const got = await mirror.text(`/v2/b.example/team/app/blobs/${digest}`);
    assert.deepEqual(got.body, blob);
  });

  it("routes on a Host named in an upstream's hosts, and bare names to docker.io", async () => {
    assert.equal(await from("/v2/team/app/manifests/v1", { host: "b.mirror.example:5000" }), "b:team/app");
    assert.equal(await from("/v2/alpine/manifests/latest"), "a:alpine");
    const catalog = await mirror.text("/v2/_catalog", { host: "B.Mirror.Example" });
    assert.deepEqual(JSON.parse(catalog.body.toString()).repositories, ["team/app"]);
    const hub = await mirror.text("/v2/_catalog");
    assert.deepEqual(JSON.parse(hub.body.toString()).repositories, ["library/alpine"]);
    const counted = { registry: "b.example", route: "manifests", cache: "hit" };
    assert.ok((await mirror.metrics.value("hubmirror_registry_requests_total", counted)) >= 1);
  });

  it("answers an unconfigured registry in ns or a prefix with NAME_UNKNOWN and dials nothing", async () => {
    const seen = [
      hubA.requests.length,
      hubB.requests.length,
      hubA.tokenRequests.length,
      hubB.tokenRequests.length,
    ];
    for (const path of [
      `/v2/team/app/manifests/v1?ns=${trap.host}`,
      `/v2/${trap.host}/team/app/manifests/v1`,
      `/v2/${trap.host}/team/app/blobs/sha256:${"a".repeat(64)}`,
      `/v2/${trap.host}/team/app/tags/list`,
      `/v2/localhost:${trap.host.split(":")[1]}/x/manifests/v1`,
      "/v2/quay.io/x/y/manifests/latest",
      `/v2/_catalog?ns=${trap.host}`,
    ]) {
      const res = await mirror.text(path);
      assert.equal(res.status, 404, path);
      assert.equal(errorCode(res.body), "NAME_UNKNOWN", path);
    }
    const now = [
      hubA.requests.length,
      hubB.requests.length,
      hubA.tokenRequests.length,
      hubB.tokenRequests.length,
    ];
    assert.deepEqual(now, seen, "no upstream was asked");
    // An unknown Host is no routing signal: the default registry answers.
    assert.equal(await from("/v2/alpine/manifests/latest", { host: trap.host }), "a:alpine");
    assert.equal(trap.accepted, 0, "nothing dialled the unconfigured host");
  });

  it("refuses a denied repository with 403 DENIED before asking upstream", async () => {
    const asked = hubB.requests.length;
    for (const path of ["/v2/b.example/secret/x/manifests/v1", "/v2/secret/x/manifests/v1?ns=b.example"]) {
      const res = await mirror.text(path);
      assert.equal(res.status, 403, path);
      assert.equal(errorCode(res.body), "DENIED");
    }
    assert.equal(hubB.requests.length, asked);
  });

  it("applies each upstream's tag TTL", async () => {
    const heads = (hub: FakeHub, repo: string) => hub.count("HEAD", new RegExp(`^/v2/${repo}/manifests/`));
    await from("/v2/b.example/team/app/manifests/v2");
    const b = heads(hubB, "team/app");
    assert.equal(await from("/v2/b.example/team/app/manifests/v2"), "b:team/app:v2");
    assert.equal(heads(hubB, "team/app"), b, "within b.example's 1h TTL: no revalidation");
    await from("/v2/alpine/manifests/latest");
    const a = heads(hubA, "library/alpine");
    await from("/v2/alpine/manifests/latest");
    assert.equal(heads(hubA, "library/alpine"), a + 1, "docker.io's TTL is 0: revalidated with a HEAD");
  });
});
