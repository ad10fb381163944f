// hubmirror with its cache in object storage (radosgw), under a crash and a big blob: SIGKILL while a layer
// streams into the bucket as a multipart upload leaves no visible partial object and an index that names only
// whole, verified objects; after a restart the layer is fetched again. A 500 MiB blob fills into the bucket with
// bounded memory.
//   bash test/netns-run.sh node --import tsx --test test/e2e/s3-crash.test.ts
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { request } from "undici";
import { stringify } from "yaml";
import { removeTree, tempDir } from "../clients/proc.js";
import { MiB } from "../fixtures/blob-store.js";
import { biggestBlob, makeBlobImage, type TestImage } from "../fixtures/images.js";
import { createBucket, type Radosgw, s3Client, startRadosgw } from "../fixtures/radosgw.js";
import { eventually, streamDigest } from "../helpers.js";
import { MirrorProcess } from "../mirror-process.js";
import { type Hub, startHub } from "./stack.js";

const BUCKET = "hub-crash";
let rgw: Radosgw;
let s3: S3Client;
let hub: Hub;
let work: string;
let mirror: MirrorProcess;
let big: TestImage;
let huge: TestImage;

const keyOf = (digest: string) => `blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

async function objectDigest(key: string): Promise<string> {
  const res = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await streamDigest(res.Body as AsyncIterable<Buffer>)).digest;
}

async function exists(key: string): Promise<boolean> {
  return s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
    () => true,
    () => false,
  );
}

/** GETs a blob through the mirror, hashing it; `onBytes` sees the running count. */
async function pull(img: TestImage, onBytes: (n: number) => void = () => {}) {
  const blob = biggestBlob(img);
  const res = await request(`${mirror.url}/v2/${img.repo}/blobs/${blob.digest}`);
  assert.equal(res.statusCode, 200);
  return streamDigest(res.body as AsyncIterable<Buffer>, onBytes);
}

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
}

before(
  async () => {
    work = await tempDir("s3-crash");
    rgw = await startRadosgw();
    s3 = s3Client(rgw);
    hub = await startHub();
    big = await makeBlobImage(64 * MiB);
    huge = await makeBlobImage(500 * MiB);
    await hub.push(big);
    await hub.push(huge);
    const config = join(work, "hubmirror.yaml");
    const url = await createBucket(rgw, BUCKET);
    const { accessKeyId, secretAccessKey } = rgw;
    await writeFile(config, stringify({ storage: { url, accessKeyId, secretAccessKey } }));
    mirror = await MirrorProcess.start({ upstream: hub.registry.url, data: join(work, "data"), config });
  },
  { timeout: 120_000 },
);

after(async () => {
  await mirror?.stop();
  s3?.destroy();
  await hub?.stop();
  await rgw?.stop();
  if (work) await removeTree(work);
});

describe("object storage under a crash and a big blob", { timeout: 300_000 }, () => {
  test("SIGKILL mid multipart upload: nothing partial is visible, the index stays true, the blob is fetched again", async () => {
    const layer = biggestBlob(big);
    // The client gets the verified blob first; the upload into the bucket follows. Kill during it.
    assert.deepEqual(await pull(big), { digest: layer.digest, size: layer.size });
    await eventually("the multipart upload", async () => {
      const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
      return (open.Uploads ?? []).some((u) => u.Key === keyOf(layer.digest));
    });
    mirror.kill();
    await mirror.stopped();
    assert.equal(await exists(keyOf(layer.digest)), false, "no object for the half-uploaded layer");

    await mirror.start();
    const again = await pull(big);
    assert.deepEqual(again, { digest: layer.digest, size: layer.size });
    await mirror.settled();
    assert.equal(await objectDigest(keyOf(layer.digest)), layer.digest);

    const db = new Database(join(work, "data", "hubmirror.db"), { readonly: true });
    try {
      const rows = db.prepare("SELECT digest FROM blobs").all() as { digest: string }[];
      assert.ok(rows.length >= 1);
      for (const { digest } of rows) assert.equal(await objectDigest(keyOf(digest)), digest, digest);
    } finally {
      db.close();
    }
  });

  test("a 500 MiB blob fills into the bucket with bounded memory", async (t) => {
    const pid = mirror.pid as number;
    const baseline = await rssKiB(pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      rssKiB(pid).then(
        (kib) => {
          peak = Math.max(peak, kib);
        },
        () => {},
      );
    }, 50);
    try {
      const layer = biggestBlob(huge);
      assert.deepEqual(await pull(huge), { digest: layer.digest, size: layer.size });
      await mirror.settled();
      assert.equal(await exists(keyOf(layer.digest)), true);
    } finally {
      clearInterval(sampler);
    }
    const grewMiB = (peak - baseline) / 1024;
    t.diagnostic(
      `RSS ${(baseline / 1024).toFixed(0)} MiB before, peak ${(peak / 1024).toFixed(0)} MiB during`,
    );
    assert.ok(grewMiB < 128, `RSS grew by ${grewMiB.toFixed(0)} MiB while 500 MiB went through`);
  });
});
