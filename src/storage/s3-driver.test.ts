// Runs the shared suites and the S3-specific behaviour against a real radosgw (SigV4 checked), so it needs
// root and Debian's ceph packages: it runs in `npm test`, inside the loopback-only namespace.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import { text } from "node:stream/consumers";
import { after, before, describe, it } from "node:test";
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { type Radosgw, s3Client, startRadosgw } from "../../test/fixtures/radosgw.js";
import { freePort } from "../../test/fixtures/upstream-registry.js";
import { runBlobStoreSuite } from "../store/blob-store-suite.js";
import { PathNotFoundError } from "./driver.js";
import { runDriverSuite } from "./driver-suite.js";
import { createS3Client, type S3DriverOptions } from "./s3-client.js";
import { createS3Driver, S3Driver } from "./s3-driver.js";

const MIB = 1 << 20;
let rgw: Radosgw;
let admin: S3Client;
let buckets = 0;

const options = (bucket: string, extra: Partial<S3DriverOptions> = {}): S3DriverOptions => ({
  bucket,
  endpoint: rgw.endpoint,
  region: rgw.region,
  forcePathStyle: true,
  accessKeyId: rgw.accessKeyId,
  secretAccessKey: rgw.secretAccessKey,
  ...extra,
});

async function newBucket(): Promise<string> {
  const bucket = `hubmirror-${++buckets}`;
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

const uploadsIn = async (bucket: string) =>
  (await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];

before(async () => {
  rgw = await startRadosgw();
  admin = s3Client(rgw);
});
after(async () => {
  admin?.destroy();
  await rgw?.stop();
});

runDriverSuite("s3", async () => createS3Driver(options(await newBucket())));
runBlobStoreSuite("s3", async () => createS3Driver(options(await newBucket(), { prefix: "cache/store" })));

describe("s3 driver", () => {
  it("leaves no object and no multipart upload behind a writer cancelled mid-way", async () => {
    const bucket = await newBucket();
    const d = await createS3Driver(options(bucket, { partSize: 5 * MIB }));
    const w = await d.writer("/blobs/x");
    for (let i = 0; i < 12; i++) await w.write(Buffer.alloc(MIB, i));
    assert.equal((await uploadsIn(bucket)).length, 1, "the upload was under way");
    await w.cancel();
    assert.equal(await d.stat("/blobs/x"), undefined);
    assert.deepEqual(await uploadsIn(bucket), []);
    assert.equal((await admin.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 0);
  });

  it("lists and deletes across listing pages (the fixture's pages hold 7 keys)", async () => {
    const bucket = await newBucket();
    const d = await createS3Driver(options(bucket, { prefix: "pages" }));
    const files = Array.from({ length: 15 }, (_, i) => `/d/f${String(i).padStart(2, "0")}`);
    const nested = Array.from({ length: 5 }, (_, i) => `/d/sub/g${i}`);
    await Promise.all([...files, ...nested].map((p) => d.putContent(p, Buffer.from(p))));
    const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
    assert.ok(page.IsTruncated && page.KeyCount === 7, "a page holds 7 keys");
    assert.deepEqual(await d.list("/d"), [...files, "/d/sub"]);
    assert.deepEqual(await d.list("/"), ["/d"]);
    await d.delete("/d");
    assert.equal(await d.stat("/d"), undefined);
    await assert.rejects(d.list("/"), PathNotFoundError);
  });

  it("streams a 64 MiB write with bounded memory", async () => {
    const d = await createS3Driver(options(await newBucket()));
    const w = await d.writer("/big");
    const piece = Buffer.alloc(MIB);
    const hash = createHash("sha256");
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    for (let i = 0; i < 64; i++) {
      piece.fill(i * 7);
      hash.update(piece);
      await w.write(piece);
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    }
    await w.commit();
    assert.ok(peak < 32 * MIB, `buffers grew by ${(peak / MIB).toFixed(1)} MiB while writing 64 MiB`);
    assert.equal((await d.stat("/big"))?.size, 64 * MIB);
    const back = createHash("sha256");
    for await (const chunk of await d.reader("/big")) back.update(chunk);
    assert.equal(back.digest("hex"), hash.digest("hex"));
  });

  it("presigns a URL that plain fetch can GET, and a tampered one is refused", async () => {
    const d = await createS3Driver(options(await newBucket(), { prefix: "p" }));
    await d.putContent("/blobs/a", Buffer.from("signed content"));
    const url = await d.presign("/blobs/a", 60);
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "signed content");
    const tampered = new URL(url);
    const sig = tampered.searchParams.get("X-Amz-Signature") as string;
    tampered.searchParams.set("X-Amz-Signature", `${sig.slice(0, -1)}${sig.endsWith("0") ? "1" : "0"}`);
    assert.equal((await fetch(tampered)).status, 403);
    const otherKey = new URL(url.replace("/blobs/a", "/blobs/b"));
    assert.equal((await fetch(otherKey)).status, 403);
  });

  it("fails to start with one line naming endpoint and bucket", async () => {
    const bucket = await newBucket();
    const names = (what: RegExp) => (err: Error) => {
      assert.ok(err.message.includes(rgw.endpoint) || err.message.includes("127.0.0.1:"), err.message);
      assert.match(err.message, /bucket "hubmirror-|bucket "missing-bucket"/);
      assert.match(err.message, what);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    };
    await assert.rejects(createS3Driver(options(bucket, { secretAccessKey: "wrong" })), names(/HTTP 403/));
    await assert.rejects(createS3Driver(options("missing-bucket")), names(/no such bucket/));
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    await assert.rejects(createS3Driver(options(bucket, { endpoint })), (err: Error) => {
      assert.ok(
        err.message.startsWith(`s3 storage at ${endpoint}, bucket "${bucket}": cannot reach`),
        err.message,
      );
      return true;
    });
  });

  it("aborts multipart uploads older than the threshold under its prefix at start", async () => {
    const bucket = await newBucket();
    for (const Key of ["mirror/blobs/orphan", "other/upload"]) {
      await admin.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
    }
    await createS3Driver(options(bucket, { prefix: "mirror" }));
    assert.equal((await uploadsIn(bucket)).length, 2, "young uploads may belong to a live writer");
    await createS3Driver(options(bucket, { prefix: "mirror" }), 0);
    assert.deepEqual(
      (await uploadsIn(bucket)).map((u) => u.Key),
      ["other/upload"],
    );
  });

  it("reports a vanished bucket as an error naming the driver, not as a missing path", async () => {
    const bucket = await newBucket();
    const d = await createS3Driver(options(bucket));
    await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
    await assert.rejects(d.getContent("/x"), (err: Error) => {
      assert.ok(!(err instanceof PathNotFoundError));
      assert.match(err.message, /^s3: GetObject s3:\/\/hubmirror-\d+\/x: NoSuchBucket/);
      return true;
    });
  });

  it("reports a failing server (5xx, a cut body) as errors naming the driver", async () => {
    let requests = 0;
    // GETs get a body cut short; everything else a 503.
    const server = createServer((req, res) => {
      requests++;
      if (req.method !== "GET") return res.writeHead(503).end();
      res.writeHead(200, { "content-length": "100" }).write(Buffer.alloc(10));
      setTimeout(() => res.destroy(), 10);
    }).listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    try {
      const o = options("b", { endpoint: `http://127.0.0.1:${port}` });
      const d = new S3Driver(createS3Client(o), o);
      await assert.rejects(d.stat("/x"), (err: Error) => {
        assert.ok(!(err instanceof PathNotFoundError));
        assert.match(err.message, /^s3: HeadObject s3:\/\/b\/x: .*HTTP 503/);
        return true;
      });
      assert.ok(requests > 1, "retried");
      const body = await d.reader("/x");
      await assert.rejects(text(body), /^Error: s3: GetObject s3:\/\/b\/x: /);
      const w = await d.writer("/y");
      await assert.rejects(
        w.write(Buffer.alloc(9 * MIB)),
        /^Error: s3: CreateMultipartUpload s3:\/\/b\/y: .*HTTP 503/,
      );
      await w.cancel();
    } finally {
      server.close();
    }
  });
});
