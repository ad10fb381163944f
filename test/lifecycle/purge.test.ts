// `hubmirror purge` through the admin API of an in-process mirror in front of the FakeHub: a tag, a digest, a whole
// repository; content another cached image uses (a shared base layer) always stays; pulls afterwards fetch what was
// purged from upstream again; pinned images are refused; bad references are named.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AdminClient } from "../../src/cli/admin-client.js";
import type { PurgeReport } from "../../src/lifecycle/purge.js";
import type { Digest } from "../../src/reference/reference.js";
import { blobPath } from "../../src/store/layout.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { addImage, type HubImage, indexedDigests, layer, pull } from "../fakes/lifecycle.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { sha256Digest } from "../helpers.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

describe("purge", () => {
  let hub: FakeHub;
  let mirror: InProcessMirror;
  let admin: AdminClient;
  let alpha: HubImage;
  let beta: HubImage;
  let base: string;
  before(async () => {
    hub = await new FakeHub().start();
    mirror = await startInProcessMirror(hub.url, { cache: { gc: { interval: 0 } } });
    admin = new AdminClient({ server: mirror.url });
    const shared = layer();
    base = sha256Digest(shared);
    alpha = addImage(hub, "library/alpha", "latest", [shared, layer()]);
    beta = addImage(hub, "library/beta", "latest", [shared, layer()]);
  });
  after(async () => {
    await mirror?.stop();
    await hub?.stop();
  });

  const purge = (image: string) => admin.json<PurgeReport>("POST", "/admin/purge", { image });
  const stored = (d: string) => existsSync(join(mirror.data, "storage", blobPath(d as Digest)));
  const own = (img: HubImage) => [img.manifest, img.config, img.layers[1] as string];
  const cdnGets = (d: string) => hub.count("GET", new RegExp(`/cdn/${d}$`));

  it("drops a tag and what only it used, keeps a base layer another image uses; pulls fetch it again", async () => {
    await pull(mirror.url, alpha);
    await pull(mirror.url, beta);
    await mirror.settled();

    const report = await purge("alpha:latest");
    assert.equal(report.image, "docker.io/library/alpha:latest");
    assert.deepEqual(report.tags, ["docker.io/library/alpha:latest"]);
    assert.deepEqual(report.removed.map((r) => r.digest).sort(), own(alpha).sort());
    assert.equal(report.removed[0]?.digest, alpha.manifest, "the manifest goes first");
    assert.deepEqual(report.kept, [{ digest: base, why: "used by docker.io/library/beta" }]);
    for (const d of own(alpha)) assert.ok(!stored(d), `${d} removed`);
    assert.ok(stored(base), "the shared base layer stays");

    const requests = hub.requests.length;
    await pull(mirror.url, beta);
    assert.equal(hub.requests.length, requests, "the other image still pulls from the cache alone");
    const manifestGets = hub.count("GET", /library\/alpha\/manifests\/latest/);
    await pull(mirror.url, alpha);
    assert.equal(
      hub.count("GET", /library\/alpha\/manifests\/latest/),
      manifestGets + 1,
      "tag fetched again",
    );
    for (const d of [alpha.config, alpha.layers[1] as string]) assert.equal(cdnGets(d), 2, "fetched again");
    assert.equal(cdnGets(base), 1, "the base layer was never fetched twice");
  });

  it("keeps a manifest another tag names; by digest it drops every tag naming it", async () => {
    hub.addManifest("library/alpha", alpha.body, OCI_MANIFEST, "stable");
    await pull(mirror.url, { ...alpha, tag: "stable" });
    await mirror.settled();
    const tag = await purge("library/alpha:latest");
    assert.deepEqual(tag.removed, []);
    assert.ok(
      tag.kept.some(
        (k) => k.digest === alpha.manifest && k.why === "tagged as docker.io/library/alpha:stable",
      ),
    );
    assert.ok(stored(alpha.manifest));

    const byDigest = await purge(`library/alpha@${alpha.manifest}`);
    assert.equal(byDigest.scope, "digest");
    assert.deepEqual(byDigest.tags, ["docker.io/library/alpha:stable"]);
    assert.deepEqual(byDigest.removed.map((r) => r.digest).sort(), own(alpha).sort());
    assert.ok(stored(base));
  });

  it("drops a whole repository, then the base once no repository uses it, and again after a new pull", async () => {
    await pull(mirror.url, alpha);
    await mirror.settled();
    const repo = await purge("library/beta");
    assert.equal(repo.scope, "repository");
    assert.deepEqual(repo.tags, ["docker.io/library/beta:latest"]);
    assert.deepEqual(repo.removed.map((r) => r.digest).sort(), own(beta).sort());
    assert.deepEqual(repo.kept, [{ digest: base, why: "used by docker.io/library/alpha" }]);

    const all = await purge("docker.io/library/alpha");
    assert.deepEqual(all.removed.map((r) => r.digest).sort(), [...own(alpha), base].sort());
    assert.deepEqual(all.kept, []);
    await mirror.meta.flush();
    const left = indexedDigests(mirror.data);
    for (const d of [...own(alpha), ...own(beta), base]) {
      assert.ok(!stored(d), `${d} gone from storage`);
      assert.ok(!left.has(d), `${d} gone from the index`);
    }
    await assert.rejects(purge("library/beta"), /404: docker\.io\/library\/beta is not in the cache/);

    // Pulled again after the purge, the repository is linked again: a second purge finds all of it.
    await pull(mirror.url, beta);
    await mirror.settled();
    const again = await purge("library/beta");
    assert.deepEqual(again.removed.map((r) => r.digest).sort(), [...own(beta), base].sort());
  });

  it("refuses to purge a pinned image, and keeps content pinned through another", async () => {
    await pull(mirror.url, alpha);
    await pull(mirror.url, beta);
    await mirror.settled();
    await mirror.lifecycle.pin("library/alpha:latest");
    try {
      await assert.rejects(purge("library/alpha:latest"), /403: docker\.io\/library\/alpha:latest is pinned/);
      await assert.rejects(
        purge("library/alpha"),
        /403: docker\.io\/library\/alpha is pinned \(latest \[api\]\)/,
      );
      assert.ok(stored(alpha.manifest));
      // beta shares the base layer with the pinned alpha: the base stays, as pinned.
      const report = await purge("library/beta:latest");
      assert.ok(report.kept.some((k) => k.digest === base && k.why === "pinned"));
      assert.ok(stored(base));
    } finally {
      await mirror.lifecycle.unpin("library/alpha:latest");
    }
  });

  it("names a bad or unknown image reference", async () => {
    await assert.rejects(
      purge("Not A/Valid!!"),
      /400: invalid (image reference|repository name).*Not A\/Valid!!/,
    );
    await assert.rejects(
      purge("library/alpha:no-such-tag"),
      /404: docker\.io\/library\/alpha:no-such-tag is not in the cache/,
    );
    await assert.rejects(purge("library/nothing"), /404: docker\.io\/library\/nothing is not in the cache/);
    await assert.rejects(admin.json("POST", "/admin/purge", {}), /400: expected a string "image"/);
  });
});
