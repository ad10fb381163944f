// GC on object storage (a real S3 server, radosgw): the same plan and removals as on the filesystem, through the
// driver's list/stat/delete. An object the index never heard of is found as an orphan, unreferenced content and
// purged content leave the bucket, and what a cached image uses stays.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { AdminClient } from "../../src/cli/admin-client.js";
import type { GcReport } from "../../src/lifecycle/gc.js";
import type { GcItem } from "../../src/lifecycle/gc-steps.js";
import type { PurgeReport } from "../../src/lifecycle/purge.js";
import type { Digest } from "../../src/reference/reference.js";
import { blobPath } from "../../src/store/layout.js";
import { FakeHub } from "../fakes/fake-hub.js";
import { addImage, getBlob, layer, pull } from "../fakes/lifecycle.js";
import { type InProcessMirror, startInProcessMirror } from "../fakes/mirror.js";
import { createBucket, type Radosgw, s3Client, startRadosgw } from "../fixtures/radosgw.js";
import { sha256Digest } from "../helpers.js";

const BUCKET = "gc-cache";
const id = (i: GcItem) => `${i.kind} ${i.path ?? i.digest}`;

describe("GC on object storage", { timeout: 120_000 }, () => {
  let rgw: Radosgw;
  let s3: S3Client;
  let hub: FakeHub;
  let mirror: InProcessMirror;
  before(
    async () => {
      rgw = await startRadosgw();
      s3 = s3Client(rgw);
      hub = await new FakeHub().start();
      mirror = await startInProcessMirror(hub.url, {
        storage: {
          url: await createBucket(rgw, BUCKET),
          accessKeyId: rgw.accessKeyId,
          secretAccessKey: rgw.secretAccessKey,
        },
        cache: { gc: { interval: 0, grace: 0 } },
      });
    },
    { timeout: 90_000 },
  );
  after(async () => {
    await mirror?.stop();
    await hub?.stop();
    s3?.destroy();
    await rgw?.stop();
  });

  const keys = async () =>
    new Set(
      ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "blobs/" }))).Contents ?? []).map(
        (c) => `/${c.Key}`,
      ),
    );

  it("finds orphan objects and unreferenced or purged content in the bucket, and keeps what images use", async () => {
    const shared = layer();
    const live = addImage(hub, "acme/live", "v1", [shared, layer()]);
    const gone = addImage(hub, "acme/gone", "v1", [shared, layer()]);
    await pull(mirror.url, live);
    await pull(mirror.url, gone);
    const loose = hub.addBlob(randomBytes(4096));
    await getBlob(mirror.url, "acme/loose", loose);
    await mirror.settled();
    const purged = await new AdminClient({ server: mirror.url }).json<PurgeReport>("POST", "/admin/purge", {
      image: "acme/gone:v1",
    });
    assert.deepEqual(
      purged.kept.map((k) => k.digest),
      [sha256Digest(shared)],
      "the shared layer stays",
    );
    const orphanBytes = randomBytes(1000);
    const orphan = blobPath(sha256Digest(orphanBytes) as Digest);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: orphan.slice(1), Body: orphanBytes }));

    const admin = new AdminClient({ server: mirror.url });
    const gc = async (dryRun: boolean) =>
      (await admin.stream("POST", "/admin/gc", { dryRun }, () => {})) as unknown as GcReport;
    const before = await keys();
    const dry = await gc(true);
    assert.deepEqual(await keys(), before, "the dry run deleted nothing");
    assert.deepEqual(dry.items.map(id).sort(), [`unreferenced ${loose}`, `orphan-file ${orphan}`].sort());
    const real = await gc(false);
    assert.deepEqual(real.items.map(id).sort(), dry.items.map(id).sort());
    const left = await keys();
    assert.ok(!left.has(orphan) && !left.has(blobPath(loose as Digest)), "both left the bucket");
    for (const d of [live.manifest, ...live.blobs]) assert.ok(left.has(blobPath(d as Digest)), `${d} stays`);
    for (const d of [gone.manifest, gone.config, gone.layers[1] as string])
      assert.ok(!left.has(blobPath(d as Digest)), `purged ${d} left the bucket`);

    const requests = hub.requests.length;
    await pull(mirror.url, live);
    assert.equal(hub.requests.length, requests, "the cached image still pulls from the bucket alone");
  });
});
