// hubmirror on object storage with presigned redirects: a real S3 server that checks signatures (radosgw), and
// real clients that follow the 307 to it. Cold pulls are served by hubmirror while each blob streams into the
// bucket as a multipart upload; warm pulls are redirected to presigned URLs.
//   bash test/netns-run.sh node --import tsx --test test/e2e/object-storage.test.ts
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, describe, test } from "node:test";
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createBucket, type Radosgw, s3Client, startRadosgw } from "../fixtures/radosgw.js";
import { type ModeName, pullColdThenWarm } from "./pull-modes.js";
import { useStack } from "./stack.js";

const MODES: ModeName[] = [
  "dockerd registry-mirrors",
  "ctr --hosts-dir",
  "podman registries.conf",
  "skopeo --registries-conf",
];
let rgw: Radosgw;
const mirror = { storage: {} as Record<string, unknown> };
const stack = useStack({
  mirror,
  timeout: 90_000,
  prepare: async () => {
    rgw = await startRadosgw();
    mirror.storage = {
      url: await createBucket(rgw, "hub-cache"),
      accessKeyId: rgw.accessKeyId,
      secretAccessKey: rgw.secretAccessKey,
      redirect: { mode: "presigned", expiry: "5m" },
    };
  },
});
after(() => rgw?.stop());
const metric = (name: string, labels: Record<string, string>) => stack.mirror.process.metric(name, labels);

describe("object storage with presigned redirects", { timeout: 240_000 }, () => {
  test("real clients pull cold (served while it uploads) and warm (redirected to the bucket)", async (t) => {
    const images = stack.hub.images;
    for (const name of MODES) {
      const { redirected, wanted } = await pullColdThenWarm(stack.modes[name], images, stack.mirror.process);
      t.diagnostic(`${name}: ${redirected} blob GETs redirected to radosgw on the warm pulls (≥ ${wanted})`);
      assert.ok(redirected >= wanted, `${name}: warm blob GETs were redirected`);
    }
  });

  test("the bucket holds every blob once, whole and verified, and no upload is left open", async () => {
    const s3 = s3Client(rgw);
    try {
      const keys =
        (await s3.send(new ListObjectsV2Command({ Bucket: "hub-cache", Prefix: "blobs/" }))).Contents ?? [];
      const pulled = MODES.flatMap((name) => stack.hub.images.flatMap((img) => stack.modes[name].blobs(img)));
      const all = new Set(pulled);
      assert.ok(keys.length >= all.size);
      for (const { Key } of keys) {
        const hex = /^blobs\/sha256\/[0-9a-f]{2}\/([0-9a-f]{64})\/data$/.exec(Key ?? "")?.[1];
        assert.ok(hex, `unexpected key ${Key}`);
        const body = await s3.send(new GetObjectCommand({ Bucket: "hub-cache", Key }));
        const hash = createHash("sha256");
        for await (const chunk of body.Body as AsyncIterable<Buffer>) hash.update(chunk);
        assert.equal(hash.digest("hex"), hex, `${Key} hashes to its name`);
      }
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: "hub-cache" }));
      assert.deepEqual(uploads.Uploads ?? [], []);
      assert.equal(
        await metric("hubmirror_blob_fills_total", { outcome: "committed" }),
        all.size,
        "one fill per blob",
      );
    } finally {
      s3.destroy();
    }
  });
});
