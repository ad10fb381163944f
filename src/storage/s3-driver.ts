import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { type FileInfo, type FileWriter, PathNotFoundError, type StorageDriver } from "./driver.js";
import {
  createS3Client,
  describeError,
  httpStatus,
  isMissingKey,
  type S3DriverOptions,
} from "./s3-client.js";
import { S3Writer } from "./s3-writer.js";

const MIB = 1 << 20;

/**
 * Stores each path as an object in one bucket, under an optional key prefix; "directories" are key prefixes.
 * Writes stream into multipart uploads (S3Writer), so a blob never sits whole in memory.
 */
export class S3Driver implements StorageDriver {
  readonly name = "s3";
  /** The key prefix with a trailing slash, or "" for the bucket root. */
  private readonly root: string;
  private readonly partSize: number;
  private readonly partsInFlight: number;

  async close(): Promise<void> {
    this.client.destroy();
  }

  constructor(
    readonly client: S3Client,
    private readonly o: S3DriverOptions,
  ) {
    const prefix = (o.prefix ?? "").replace(/^\/+|\/+$/g, "");
    this.root = prefix && `${prefix}/`;
    this.partSize = o.partSize ?? 8 * MIB;
    this.partsInFlight = o.partsInFlight ?? 2;
    if (this.partSize < 5 * MIB || !(this.partsInFlight >= 1)) {
      throw new Error(
        `s3: partSize must be at least 5 MiB and partsInFlight at least 1 (bucket ${o.bucket})`,
      );
    }
  }

  private key(path: string): string {
    return this.root + path.slice(1);
  }

  /** The key prefix of everything under a directory path. */
  private dirPrefix(path: string): string {
    return path === "/" ? this.root : `${this.key(path)}/`;
  }

  /** Runs one S3 call: a missing key becomes PathNotFoundError, anything else an Error naming the driver. */
  private async call<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isMissingKey(err)) throw new PathNotFoundError(this.name, path);
      throw this.fail(op, this.key(path), err);
    }
  }

  private fail(op: string, key: string, err: unknown): Error {
    return new Error(`${this.name}: ${op} s3://${this.o.bucket}/${key}: ${describeError(err)}`, {
      cause: err,
    });
  }

  private head(path: string) {
    return this.call("HeadObject", path, () =>
      this.client.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: this.key(path) })),
    ).catch((err) => {
      if (err instanceof PathNotFoundError) return undefined;
      throw err;
    });
  }

  /**
   * One page of keys (and, with a delimiter, common prefixes) under a prefix. S3's page size, asked for
   * explicitly: servers may cap it lower (radosgw's rgw_max_listing_results), which the callers page through.
   */
  private listPage(path: string, delimiter: string | undefined, token?: string, max = 1000) {
    return this.call("ListObjectsV2", path, () =>
      this.client.send(
        new ListObjectsV2Command({
          Bucket: this.o.bucket,
          Prefix: this.dirPrefix(path),
          Delimiter: delimiter,
          ContinuationToken: token,
          MaxKeys: max,
        }),
      ),
    );
  }

  private async *listPages(path: string, delimiter?: string): AsyncGenerator<ListObjectsV2CommandOutput> {
    let token: string | undefined;
    do {
      const page = await this.listPage(path, delimiter, token);
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const head = path === "/" ? undefined : await this.head(path);
    if (head)
      return { path, size: head.ContentLength ?? 0, modTime: head.LastModified ?? new Date(0), isDir: false };
    const page = await this.listPage(path, undefined, undefined, 1);
    return page.KeyCount ? { path, size: 0, modTime: new Date(0), isDir: true } : undefined;
  }

  async reader(path: string, offset = 0, length?: number): Promise<Readable> {
    if (length === 0) return this.empty(path);
    const end = length === undefined ? "" : offset + length - 1;
    try {
      const res = await this.call("GetObject", path, () =>
        this.client.send(
          new GetObjectCommand({
            Bucket: this.o.bucket,
            Key: this.key(path),
            Range: offset === 0 && length === undefined ? undefined : `bytes=${offset}-${end}`,
          }),
        ),
      );
      return Readable.from(this.named(path, res.Body as Readable), { objectMode: false });
    } catch (err) {
      // 416 for a range that starts at (or past) the end: like a file read there, that is no bytes.
      if (httpStatus((err as Error).cause) === 416) return this.empty(path);
      throw err;
    }
  }

  /** The body's chunks; a failure mid-body (a reset, a stall) becomes an Error naming the driver too. */
  private async *named(path: string, body: Readable): AsyncGenerator<Buffer> {
    try {
      yield* body;
    } catch (err) {
      throw this.fail("GetObject", this.key(path), err);
    }
  }

  /** No bytes, for a path that exists. */
  private async empty(path: string): Promise<Readable> {
    if (!(await this.head(path))) throw new PathNotFoundError(this.name, path);
    return Readable.from([]);
  }

  async getContent(path: string): Promise<Buffer> {
    return this.call("GetObject", path, async () => {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.o.bucket, Key: this.key(path) }),
      );
      return Buffer.from((await res.Body?.transformToByteArray()) ?? []);
    });
  }

  async putContent(path: string, content: Buffer): Promise<void> {
    await this.call("PutObject", path, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.o.bucket,
          Key: this.key(path),
          Body: content,
          ContentLength: content.length,
        }),
      ),
    );
  }

  async writer(path: string): Promise<FileWriter> {
    const key = this.key(path);
    return new S3Writer({
      client: this.client,
      bucket: this.o.bucket,
      key,
      partSize: this.partSize,
      partsInFlight: this.partsInFlight,
      fail: (op, err) => this.fail(op, key, err),
    });
  }

  /** Copy, then delete: S3 has no rename. CopyObject takes objects up to 5 GiB. */
  async move(from: string, to: string): Promise<void> {
    const source = `${this.o.bucket}/${this.key(from)}`.split("/").map(encodeURIComponent).join("/");
    await this.call("CopyObject", from, () =>
      this.client.send(
        new CopyObjectCommand({ Bucket: this.o.bucket, Key: this.key(to), CopySource: source }),
      ),
    );
    await this.call("DeleteObject", from, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.key(from) })),
    );
  }

  /** An object, or everything under a directory path, a page (up to 1000 keys) per DeleteObjects. */
  async delete(path: string): Promise<void> {
    if (path !== "/" && (await this.head(path))) {
      await this.call("DeleteObject", path, () =>
        this.client.send(new DeleteObjectCommand({ Bucket: this.o.bucket, Key: this.key(path) })),
      );
      return;
    }
    let deleted = 0;
    for await (const page of this.listPages(path)) {
      const objects = (page.Contents ?? []).map((c) => ({ Key: c.Key as string }));
      if (objects.length === 0) continue;
      const res = await this.call("DeleteObjects", path, () =>
        this.client.send(
          new DeleteObjectsCommand({ Bucket: this.o.bucket, Delete: { Objects: objects, Quiet: true } }),
        ),
      );
      const failed = res.Errors?.[0];
      if (failed)
        throw new Error(`${this.name}: DeleteObjects s3://${this.o.bucket}/${failed.Key}: ${failed.Message}`);
      deleted += objects.length;
    }
    if (deleted === 0) throw new PathNotFoundError(this.name, path);
  }

  async list(path: string): Promise<string[]> {
    const prefix = this.dirPrefix(path);
    const toPath = (key: string) =>
      `${path === "/" ? "" : path}/${key.slice(prefix.length).replace(/\/$/, "")}`;
    const children: string[] = [];
    for await (const page of this.listPages(path, "/")) {
      for (const p of page.CommonPrefixes ?? []) children.push(toPath(p.Prefix as string));
      for (const c of page.Contents ?? []) if (c.Key !== prefix) children.push(toPath(c.Key as string));
    }
    if (children.length === 0) throw new PathNotFoundError(this.name, path);
    return children.sort();
  }

  async redirectURL(): Promise<string | undefined> {
    return undefined;
  }

  /** Aborts the multipart uploads under the prefix started more than `ageMs` ago; returns how many. */
  async abortUploadsOlderThan(ageMs: number): Promise<number> {
    const { bucket } = this.o;
    const cutoff = Date.now() - ageMs;
    let aborted = 0;
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const page = await this.call("ListMultipartUploads", "/", () =>
        this.client.send(
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: this.root, KeyMarker, UploadIdMarker }),
        ),
      );
      for (const u of page.Uploads ?? []) {
        if ((u.Initiated?.getTime() ?? 0) > cutoff) continue;
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }))
          .catch((err: Error) => {
            // Another node starting at the same moment may have aborted it first.
            if (err.name !== "NoSuchUpload") throw this.fail("AbortMultipartUpload", u.Key ?? "", err);
          });
        aborted++;
      }
      [KeyMarker, UploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [];
    } while (KeyMarker);
    return aborted;
  }

  /** A URL that GETs the object without credentials until it expires; for the redirect wrapper. */
  presign(path: string, expiresInSeconds: number): Promise<string> {
    return this.call("presign", path, () =>
      getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.o.bucket, Key: this.key(path) }), {
        expiresIn: expiresInSeconds,
      }),
    );
  }
}

/** A multipart upload this old was cut off by a crash, whoever started it (the bucket may be shared). */
export const ORPHAN_UPLOAD_MS = 24 * 3600_000;

/**
 * Creates the driver once the bucket answers, failing with one clear line (endpoint, bucket, what is wrong)
 * when it does not, and aborts the multipart uploads that crashed writers left under the prefix, which S3
 * would keep (and bill) forever.
 */
export async function createS3Driver(
  o: S3DriverOptions,
  orphanUploadMs = ORPHAN_UPLOAD_MS,
): Promise<S3Driver> {
  const driver = new S3Driver(createS3Client(o), o);
  const where = `s3 storage at ${o.endpoint ?? "AWS"}, bucket "${o.bucket}"`;
  try {
    await driver.client.send(new HeadBucketCommand({ Bucket: o.bucket }));
  } catch (err) {
    driver.client.destroy();
    throw new Error(`${where}: ${bucketProblem(err)}`, { cause: err });
  }
  try {
    await driver.abortUploadsOlderThan(orphanUploadMs);
  } catch (err) {
    driver.client.destroy();
    throw new Error(`${where}: cannot abort orphan multipart uploads: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return driver;
}

function bucketProblem(err: unknown): string {
  switch (httpStatus(err)) {
    case 403:
      return "access denied (HTTP 403): check the access key and secret";
    case 404:
      return "no such bucket (HTTP 404)";
    case undefined:
      return `cannot reach the endpoint: ${describeError(err)}`;
    default:
      return describeError(err);
  }
}
