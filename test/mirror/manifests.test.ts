import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { errorCode } from "../helpers.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI = "application/vnd.oci.image.manifest.v1+json";

function image(hub: FakeHub, repo: string, tag: string, seed: string) {
  const config = hub.addBlob(Buffer.from(`{"seed":"${seed}"}`));
  const layer = hub.addBlob(Buffer.from(`layer ${seed}`));
  const body = {
    schemaVersion: 2,
    mediaType: DOCKER,
    config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: config, size: 10 },
    layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", digest: layer, size: 7 }],
  };
  return hub.addManifest(repo, body, DOCKER, tag);
}

describe("manifests", () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  before(async () => {
    hub = await new FakeHub().start();
    mirror = await startInProcessMirror(hub.url, { cache: { tagTtl: "300ms", staleAfter: "200ms" } });
  });
  after(async () => {
    await mirror.stop();
    await hub.stop();
  });
  beforeEach(() => hub.clearFaults());

  it("serves a tag with the headers clients need, one upstream GET, then from cache", async () => {
    const digest = image(hub, "library/alpine", "3.20", "a");
    const res = await mirror.text("/v2/alpine/manifests/3.20", { accept: `${OCI}, ${DOCKER}` });
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], DOCKER);
    assert.equal(res.headers["docker-content-digest"], digest);
    assert.equal(res.headers.etag, `"${digest}"`);
    assert.equal(Number(res.headers["content-length"]), res.body.length);
    assert.equal(res.headers["docker-distribution-api-version"], "registry/2.0");
    const again = await mirror.get("/v2/library/alpine/manifests/3.20?ns=docker.io", {}, "HEAD");
    await again.body.dump();
    assert.equal(again.headers["docker-content-digest"], digest);
    assert.equal(hub.count("GET", /manifests\/3\.20$/), 1);
    assert.equal(hub.count("HEAD", /manifests/), 0);
    assert.equal(hub.tokenRequests.length, 1, "one token for the scope, reused");
    const byDigest = await mirror.text(`/v2/library/alpine/manifests/${digest}`);
    assert.equal(byDigest.status, 200);
    assert.equal(hub.count("GET", /manifests\/sha256/), 0, "a tag fetch caches the digest too");
  });

  it("revalidates an expired tag with HEAD and fetches again only when it moved", async () => {
    const first = image(hub, "library/redis", "7", "r1");
    await (await mirror.get("/v2/library/redis/manifests/7")).body.dump();
    const quota = hub.rateLimitRemaining;
    await sleep(350);
    const same = await mirror.text("/v2/library/redis/manifests/7");
    assert.equal(same.headers["docker-content-digest"], first);
    assert.equal(hub.count("HEAD", /redis\/manifests\/7$/), 1);
    assert.equal(hub.rateLimitRemaining, quota, "HEAD costs no pull quota");
    const moved = image(hub, "library/redis", "7", "r2");
    await sleep(350);
    const next = await mirror.text("/v2/library/redis/manifests/7");
    assert.equal(next.headers["docker-content-digest"], moved);
    assert.equal(hub.count("GET", /redis\/manifests\/7$/), 2);
    const status = await mirror.meta.getUpstreamStatus("docker.io");
    assert.equal(status?.rateLimitRemaining, hub.rateLimitRemaining);
  });

  for (const fault of [
    { kind: "status", status: 500 },
    { kind: "status", status: 429, headers: { "Retry-After": "30" } },
    { kind: "drop" },
    { kind: "delay", ms: 1500 },
  ] as const) {
    it(`serves the cached tag when upstream fails (${JSON.stringify(fault)})`, async () => {
      const repo = `library/stale-${fault.kind}-${"status" in fault ? fault.status : 0}`;
      const digest = image(hub, repo, "latest", repo);
      await (await mirror.get(`/v2/${repo}/manifests/latest`)).body.dump();
      await sleep(350);
      hub.inject({ path: /manifests/, fault });
      const started = Date.now();
      const res = await mirror.text(`/v2/${repo}/manifests/latest`);
      assert.equal(res.status, 200);
      assert.equal(res.headers["docker-content-digest"], digest);
      assert.match(String(res.headers.warning), /Stale/);
      assert.ok(Date.now() - started < 1200, "never waits long on a failing upstream");
    });
  }

  it("maps upstream failures without a cached copy to OCI errors", async () => {
    hub.inject({
      path: /nocache\/manifests/,
      fault: { kind: "status", status: 429, headers: { "Retry-After": "42" } },
      times: 1,
    });
    const limited = await mirror.text("/v2/library/nocache/manifests/latest");
    assert.equal(limited.status, 429);
    assert.equal(limited.headers["retry-after"], "42");
    assert.equal(errorCode(limited.body), "TOOMANYREQUESTS");
    hub.inject({ path: /nocache\/manifests/, fault: { kind: "status", status: 503 }, times: 2 });
    assert.equal((await mirror.text("/v2/library/nocache/manifests/latest")).status, 502);
    const unknown = await mirror.text("/v2/library/nocache/manifests/latest");
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown.body), "MANIFEST_UNKNOWN");
  });

  it("never caches a manifest whose bytes don't match the digest", async () => {
    const digest = image(hub, "library/liar", "v1", "liar");
    const other = image(hub, "library/liar", "v2", "other");
    // Make the upstream answer a digest request with another manifest's bytes.
    const stored = (hub as unknown as { manifests: Map<string, unknown> }).manifests;
    stored.set(`library/liar@${digest}`, stored.get(`library/liar@${other}`));
    const res = await mirror.text(`/v2/library/liar/manifests/${digest}`);
    assert.equal(res.status, 502);
    assert.equal(await mirror.meta.getManifest(digest as `sha256:${string}`), undefined);
  });

  it("negotiates an index: whole for clients that accept it, the linux/amd64 image for others", async () => {
    const amd64 = image(hub, "library/multi", "amd64-only", "m-amd64");
    const arm64 = image(hub, "library/multi", "arm64-only", "m-arm64");
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { mediaType: DOCKER, digest: arm64, size: 1, platform: { os: "linux", architecture: "arm64" } },
        { mediaType: DOCKER, digest: amd64, size: 1, platform: { os: "linux", architecture: "amd64" } },
      ],
    };
    const digest = hub.addManifest("library/multi", index, OCI_INDEX, "latest");
    const whole = await mirror.text("/v2/library/multi/manifests/latest", {
      accept: `${DOCKER},${OCI_INDEX}`,
    });
    assert.equal(whole.headers["docker-content-digest"], digest);
    const single = await mirror.text("/v2/library/multi/manifests/latest", { accept: DOCKER });
    assert.equal(single.headers["docker-content-digest"], amd64);
    assert.equal(single.headers["content-type"], DOCKER);
    const none = await mirror.text("/v2/library/multi/manifests/latest", { accept: "application/x-nothing" });
    assert.equal(none.status, 404);
  });
});
