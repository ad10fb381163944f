import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeHub } from "../fakes/fake-hub.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { errorCode } from "../helpers.js";

const DOCKER = "application/vnd.docker.distribution.manifest.v2+json";

describe("registry API edge", () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  before(async () => {
    hub = await new FakeHub().start();
    mirror = await startInProcessMirror(hub.url);
    for (const tag of ["a", "b", "c"]) {
      hub.addManifest("library/tagged", { schemaVersion: 2, mediaType: DOCKER, tag }, DOCKER, tag);
    }
  });
  after(async () => {
    await mirror.stop();
    await hub.stop();
  });

  it("answers the /v2/ ping", async () => {
    const res = await mirror.text("/v2/");
    assert.equal(res.status, 200);
    assert.equal(res.headers["docker-distribution-api-version"], "registry/2.0");
    assert.deepEqual(JSON.parse(res.body.toString()), {});
  });

  it("refuses writes with 405 UNSUPPORTED", async () => {
    const cases: [string, "PUT" | "POST" | "PATCH" | "DELETE"][] = [
      ["/v2/library/x/manifests/latest", "PUT"],
      ["/v2/library/x/blobs/uploads/", "POST"],
      ["/v2/library/x/blobs/uploads/123", "PATCH"],
      [`/v2/library/x/blobs/sha256:${"0".repeat(64)}`, "DELETE"],
    ];
    for (const [path, method] of cases) {
      const res = await mirror.get(path, {}, method);
      const body = Buffer.from(await res.body.arrayBuffer());
      assert.equal(res.statusCode, 405, `${method} ${path}`);
      assert.equal(errorCode(body), "UNSUPPORTED");
    }
    const upload = await mirror.text("/v2/library/x/blobs/uploads/");
    assert.equal(upload.status, 405);
  });

  it("validates names, tags and routes with the spec's codes, never a 500", async () => {
    const cases: [string, number, string][] = [
      ["/v2/Library/UPPER/manifests/latest", 400, "NAME_INVALID"],
      ["/v2/a..b/manifests/latest", 400, "NAME_INVALID"],
      ["/v2/a%2Fb/manifests/latest", 400, "NAME_INVALID"],
      [`/v2/${"a".repeat(300)}/manifests/latest`, 400, "NAME_INVALID"],
      ["/v2/library/x/manifests/sha256:short", 400, "DIGEST_INVALID"],
      ["/v2/library/x/referrers/nodigest", 400, "DIGEST_INVALID"],
      ["/v2/library/x/manifests/latest?ns=quay.io", 404, "NAME_UNKNOWN"],
      ["/v2/library/x/unknown/thing", 404, "NOT_FOUND"],
      ["/elsewhere", 404, "NOT_FOUND"],
      ["/v2/_catalog?n=lots", 400, "PAGINATION_NUMBER_INVALID"],
    ];
    for (const [path, status, code] of cases) {
      const res = await mirror.text(path);
      assert.equal(res.status, status, path);
      assert.equal(errorCode(res.body), code, path);
      assert.match(String(res.headers["content-type"]), /application\/json/);
    }
  });

  it("answers a reference that is neither tag nor digest with MANIFEST_UNKNOWN, as Distribution does", async () => {
    const asked = hub.requests.length;
    const cases: [string, number, string][] = [
      [".INVALID_MANIFEST_NAME", 404, "MANIFEST_UNKNOWN"],
      ["-bad-tag", 404, "MANIFEST_UNKNOWN"],
      ["sha256:abc", 400, "DIGEST_INVALID"],
      [`md5:${"0".repeat(32)}`, 400, "DIGEST_INVALID"],
    ];
    for (const [ref, status, code] of cases) {
      const res = await mirror.text(`/v2/library/alpine/manifests/${ref}`);
      assert.equal(res.status, status, ref);
      assert.equal(errorCode(res.body), code, ref);
    }
    assert.equal(hub.requests.length, asked, "never asked upstream");
  });

  it("proxies tags/list with paging, and falls back to the last copy when upstream fails", async () => {
    const all = await mirror.text("/v2/library/tagged/tags/list");
    assert.deepEqual(JSON.parse(all.body.toString()).tags, ["a", "b", "c"]);
    const page = await mirror.text("/v2/library/tagged/tags/list?n=1&last=a");
    assert.deepEqual(JSON.parse(page.body.toString()).tags, ["b"]);
    hub.inject({ path: /tags\/list/, fault: { kind: "status", status: 503 } });
    const stale = await mirror.text("/v2/library/tagged/tags/list?n=1&last=a");
    assert.equal(stale.status, 200);
    assert.deepEqual(JSON.parse(stale.body.toString()).tags, ["b"]);
    assert.match(String(stale.headers.warning), /Stale/);
    const never = await mirror.text("/v2/library/never-seen/tags/list");
    assert.equal(never.status, 502);
    hub.clearFaults();
    const unknown = await mirror.text("/v2/library/never-seen/tags/list");
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown.body), "NAME_UNKNOWN");
  });

  it("falls back to the tags held locally when no copy of the list was kept", async () => {
    await (await mirror.get("/v2/library/tagged/manifests/c")).body.dump();
    hub.inject({ path: /tags\/list/, fault: { kind: "drop" } });
    const res = await mirror.text("/v2/library/tagged/tags/list?n=5&last=b");
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body.toString()), { name: "library/tagged", tags: ["c"] });
    hub.clearFaults();
  });

  it("lists the local catalog with paging", async () => {
    await (await mirror.get("/v2/library/tagged/manifests/a")).body.dump();
    hub.addManifest("library/zeta", { schemaVersion: 2, mediaType: DOCKER, z: 1 }, DOCKER, "latest");
    await (await mirror.get("/v2/zeta/manifests/latest")).body.dump();
    const all = await mirror.text("/v2/_catalog");
    assert.deepEqual(JSON.parse(all.body.toString()).repositories, ["library/tagged", "library/zeta"]);
    const first = await mirror.text("/v2/_catalog?n=1");
    assert.deepEqual(JSON.parse(first.body.toString()).repositories, ["library/tagged"]);
    assert.equal(first.headers.link, '</v2/_catalog?n=1&last=library%2Ftagged>; rel="next"');
    const next = await mirror.text("/v2/_catalog?n=1&last=library%2Ftagged");
    assert.deepEqual(JSON.parse(next.body.toString()).repositories, ["library/zeta"]);
  });

  it("answers referrers with an empty OCI index when upstream has none", async () => {
    const res = await mirror.text(`/v2/library/tagged/referrers/sha256:${"a".repeat(64)}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(JSON.parse(res.body.toString()), {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [],
    });
  });

  it("serves metrics and health", async () => {
    const metrics = await mirror.text("/metrics");
    assert.match(metrics.body.toString(), /hubmirror_http_requests_total/);
    assert.equal((await mirror.text("/healthz")).status, 200);
  });
});
