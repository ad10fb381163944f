import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { FileWriter } from "./driver.js";

/** What a writer needs from its driver: where to write, and how to report an S3 failure. */
export interface WriteTarget {
  client: S3Client;
  bucket: string;
  key: string;
  partSize: number;
  partsInFlight: number;
  /** An Error naming the driver, the operation and the key. */
  fail(op: string, err: unknown): Error;
}

/**
 * Streams into a multipart upload while the caller writes (Distribution's S3 writer): bytes are copied into
 * part-sized buffers, a full one is uploaded in the background, and `write` waits while `partsInFlight` parts
 * are under way, so a writer holds at most `partsInFlight` part buffers whatever the blob size. Nothing is
 * visible before commit(): content smaller than a part goes up as one PutObject then, larger content is
 * completed then. cancel() aborts the upload, so no part is left behind.
 */
export class S3Writer implements FileWriter {
  size = 0;
  private part: Buffer | undefined;
  private filled = 0;
  /** Part buffers whose upload has finished, for reuse: never more than partsInFlight are allocated. */
  private readonly spare: Buffer[] = [];
  private uploadId: Promise<string> | undefined;
  private readonly parts: CompletedPart[] = [];
  private partNumber = 0;
  private readonly inflight = new Set<Promise<void>>();
  private failure: Error | undefined;
  private closed = false;
  // Cancels part uploads under way when the writer is cancelled: S3 stores no part whose body was cut short.
  private readonly abort = new AbortController();

  constructor(private readonly t: WriteTarget) {}

  async write(data: Buffer | readonly Buffer[]): Promise<void> {
    this.check();
    for (const chunk of Buffer.isBuffer(data) ? [data] : data) {
      let offset = 0;
      while (offset < chunk.length) {
        this.part ??= this.spare.pop() ?? Buffer.allocUnsafeSlow(this.t.partSize);
        const n = chunk.copy(this.part, this.filled, offset);
        offset += n;
        this.filled += n;
        this.size += n;
        if (this.filled === this.t.partSize) await this.flush();
      }
    }
  }

  async commit(): Promise<void> {
    this.check();
    this.closed = true;
    const { client, bucket, key } = this.t;
    if (!this.uploadId) {
      const body = this.part?.subarray(0, this.filled) ?? Buffer.alloc(0);
      try {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length }),
        );
      } catch (err) {
        throw this.t.fail("PutObject", err);
      } finally {
        this.release();
      }
      return;
    }
    try {
      if (this.filled > 0) await this.flush();
      await Promise.all(this.inflight);
      if (this.failure) throw this.failure;
      const UploadId = await this.uploadId;
      this.parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
      await client
        .send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: this.parts },
          }),
        )
        .catch((err) => {
          throw this.t.fail("CompleteMultipartUpload", err);
        });
    } catch (err) {
      await this.discard().catch(() => {}); // the first error is the one to report; start-up sweeps the rest
      throw err;
    } finally {
      this.release();
    }
  }

  async cancel(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.discard();
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error(`s3: writer for ${this.t.key} is already committed or cancelled`);
  }

  /** Starts uploading the full (or last) part; waits while partsInFlight parts are under way. */
  private async flush(): Promise<void> {
    if (this.abort.signal.aborted) throw new Error(`s3: writer for ${this.t.key} was cancelled`);
    const { client, bucket, key } = this.t;
    const buffer = this.part as Buffer;
    const body = buffer.subarray(0, this.filled);
    this.part = undefined;
    this.filled = 0;
    this.uploadId ??= client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })).then(
      (r) => r.UploadId as string,
      (err) => {
        throw this.t.fail("CreateMultipartUpload", err);
      },
    );
    const UploadId = await this.uploadId;
    const PartNumber = ++this.partNumber;
    const upload = client
      .send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId,
          PartNumber,
          Body: body,
          ContentLength: body.length,
        }),
        { abortSignal: this.abort.signal },
      )
      .then(
        (r) => {
          this.parts.push({ PartNumber, ETag: r.ETag });
          this.spare.push(buffer);
        },
        (err) => {
          this.failure ??= this.t.fail(`UploadPart ${PartNumber}`, err);
        },
      )
      .finally(() => this.inflight.delete(upload));
    this.inflight.add(upload);
    while (this.inflight.size >= this.t.partsInFlight) await Promise.race(this.inflight);
    if (this.failure) throw this.failure;
  }

  /** Stops the parts under way, then aborts the upload: a part finishing after the abort would linger. */
  private async discard(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.inflight);
    this.release();
    if (!this.uploadId) return;
    const UploadId = await this.uploadId.catch(() => undefined);
    if (!UploadId) return;
    const { client, bucket, key } = this.t;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId }))
      .catch((err) => {
        throw this.t.fail("AbortMultipartUpload", err);
      });
  }

  private release(): void {
    this.part = undefined;
    this.spare.length = 0;
  }
}
