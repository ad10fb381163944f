import { createHash } from "node:crypto";
import { type FileHandle, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { backoff } from "../async/backoff.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import { type Digest, digestAlgorithm, digestHex } from "../reference/reference.js";
import type { FileWriter } from "../storage/driver.js";
import { tempName } from "../storage/temp-files.js";
import { BufferPair, pump, type RangeRequest } from "../store/send-range.js";
import type { BlobBody } from "../upstream/upstream.js";
import { FillTail } from "./fill-tail.js";

export interface FillOptions {
  digest: Digest;
  /** Where the verified bytes go: visible only on commit. */
  writer: () => Promise<FileWriter>;
  spoolDir: string;
  /** Opens the upstream body at an offset; called again to resume after an interruption. */
  open: (offset: number) => Promise<BlobBody>;
  resumeAttempts: number;
  log: Logger;
  onResume: () => void;
  onBytes: (n: number) => void;
  /** Aborts the download (shutdown): nothing is committed. */
  signal?: AbortSignal | undefined;
  /** False for a blob to stream to its clients without keeping it (larger than the whole cache). */
  keep?: ((size: number) => boolean) | undefined;
}

/** Upstream sent bytes that don't match the digest, or more or other than it announced. Never resumed. */
export class BlobMismatchError extends RegistryError {
  constructor(message: string) {
    // The upstream is at fault, not the client: 502, never a 4xx a client would take as final.
    super("UPSTREAM_ERROR", message);
  }
}

const RESUME_BACKOFF = { baseMs: 250, maxMs: 5000 };
/** Read size when feeding object storage from the spool. */
const UPLOAD_CHUNK = 1 << 20;
const RESUMABLE_CODES = new Set(["UPSTREAM_UNAVAILABLE", "UPSTREAM_ERROR", "TOOMANYREQUESTS"]);

function resumable(err: unknown): boolean {
  if (err instanceof BlobMismatchError) return false;
  return !(err instanceof RegistryError) || RESUMABLE_CODES.has(err.code);
}

/**
 * One upstream download of one blob, shared by every client that wants it. Bytes are hashed as they arrive and
 * kept in a FillTail (recent bytes in memory, all of them on disk); each client streams from it at its own pace,
 * so nobody waits for the whole blob and nobody causes a second download. The fill runs detached from any client:
 * it finishes (and caches) even when every client has gone. Only bytes whose digest and length match are
 * committed; otherwise every reader fails.
 */
export class BlobFill {
  size: number | undefined;
  /** Resolves with the blob's size once upstream answered; rejects if it never does. */
  readonly ready: Promise<number>;
  /** Resolves once committed; rejects on any failure. */
  readonly done: Promise<void>;
  private state: "running" | "committed" | "failed" = "running";
  /** False when the verified blob was streamed through and not kept (see FillOptions.keep). */
  kept = true;
  /** The bytes matched the digest: readers may finish, even while the commit (fsync, rename) is under way. */
  private verified = false;
  private error: Error | undefined;
  private waiters: (() => void)[] = [];
  private tail: FillTail | undefined;
  private readHandle: FileHandle | undefined;
  private readers = 0;
  private resolveReady!: (size: number) => void;

  constructor(private readonly o: FillOptions) {
    let rejectReady!: (err: Error) => void;
    this.ready = new Promise<number>((resolve, reject) => {
      this.resolveReady = resolve;
      rejectReady = reject;
    });
    this.done = this.run().catch((err: Error) => {
      if (this.state === "running") {
        this.state = "failed";
        this.error = err;
      }
      rejectReady(err);
      throw err;
    });
    this.done.catch(() => {}).finally(() => this.settle());
    this.ready.catch(() => {});
  }

  get received(): number {
    return this.tail?.received ?? 0;
  }

  private async run(): Promise<void> {
    const { digest } = this.o;
    const writer = await this.o.writer();
    let spool: FileHandle | undefined;
    let spoolPath: string | undefined;
    try {
      // Readers behind the head read the driver's own temp file when it has one; otherwise a local spool copy.
      let readPath = writer.localPath;
      if (!readPath) {
        spoolPath = join(this.o.spoolDir, tempName());
        spool = await open(spoolPath, "w");
        readPath = spoolPath;
      }
      this.readHandle = await open(readPath, "r");
      const spooled = spool;
      const sink = spooled
        ? async (batch: Buffer[], offset: number) => void (await spooled.writev(batch, offset))
        : (batch: Buffer[]) => writer.write(batch);
      const tail = new FillTail(sink, this.readHandle);
      this.tail = tail;
      const hash = createHash(digestAlgorithm(digest));
      await this.download(tail, hash);
      const actual = hash.digest("hex");
      if (actual !== digestHex(digest)) {
        throw new BlobMismatchError(
          `upstream sent bytes for ${digest} that hash to ${digestAlgorithm(digest)}:${actual}`,
        );
      }
      this.verified = true;
      this.wake();
      await tail.drain();
      if (this.o.keep && !this.o.keep(this.size ?? 0)) {
        // Readers keep reading the open file after the temp copy is removed.
        this.kept = false;
        await writer.cancel();
        this.state = "committed";
        return;
      }
      // Storage without a local file (object storage) gets the blob from the spool once it is verified, as
      // Distribution stores after serving: the download and its clients never wait for the upload (on a 2-core
      // machine uploading alongside slowed cold pulls by a third), and a lying upstream costs no upload at all.
      if (spooled) await this.upload(writer, this.readHandle);
      await writer.commit();
      this.state = "committed";
    } catch (err) {
      // Fail readers before anything else: none may take a partial body for a whole one.
      this.state = "failed";
      this.error = err as Error;
      this.wake();
      await this.tail?.drain().catch(() => {});
      await writer.cancel().catch(() => {});
      throw this.error;
    } finally {
      await spool?.close();
      if (spoolPath) await rm(spoolPath, { force: true });
      this.wake();
    }
  }

  /** Copies the whole spooled blob to the storage writer, one reused buffer at a time. */
  private async upload(writer: FileWriter, file: FileHandle): Promise<void> {
    const size = this.size ?? 0;
    const buf = Buffer.allocUnsafeSlow(UPLOAD_CHUNK);
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) throw new Error(`spool of ${this.o.digest} ended at ${pos} of ${size} bytes`);
      // The writer is done with the bytes when write() resolves, so the buffer is reused.
      await writer.write(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  }

  private async download(tail: FillTail, hash: ReturnType<typeof createHash>): Promise<void> {
    for (let resumes = 0; ; resumes++) {
      try {
        const { totalSize, body } = await this.o.open(tail.received);
        if (this.size === undefined) {
          this.size = totalSize;
          this.resolveReady(totalSize);
        } else if (totalSize !== this.size) {
          throw new BlobMismatchError(
            `upstream size of ${this.o.digest} changed from ${this.size} to ${totalSize}`,
          );
        }
        for await (const chunk of body) {
          if (tail.received + chunk.length > totalSize) {
            throw new BlobMismatchError(`upstream sent more than the ${totalSize} bytes of ${this.o.digest}`);
          }
          hash.update(chunk);
          const backpressure = tail.append(chunk);
          this.o.onBytes(chunk.length);
          this.wake();
          if (backpressure) await backpressure;
        }
        if (tail.received === totalSize) return;
        throw new Error(`upstream body ended at ${tail.received} of ${totalSize} bytes`);
      } catch (err) {
        // The first answer is the client's to see at once; after that, a broken or refused connection is resumed
        // from the byte reached, with backoff, so an upstream restart costs a pause rather than the download.
        if (
          this.size === undefined ||
          resumes >= this.o.resumeAttempts ||
          !resumable(err) ||
          this.o.signal?.aborted
        ) {
          throw err;
        }
        this.o.log.warn(
          { digest: this.o.digest, at: tail.received, err: (err as Error).message },
          "blob resume",
        );
        this.o.onResume();
        await backoff(resumes, RESUME_BACKOFF, this.o.signal);
      }
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private progress(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Closes the shared read handle once the fill is over and no reader needs it. */
  private settle(): void {
    if (this.state === "running" || this.readers > 0 || !this.readHandle) return;
    const h = this.readHandle;
    this.readHandle = undefined;
    h.close().catch(() => {});
  }

  /**
   * Sends bytes [start, start + length) into the sink, following the download as it grows: from memory near the
   * head, else from the file into reused buffers. One write in flight per reader is its backpressure.
   */
  async send(r: RangeRequest, committed: (r: RangeRequest) => Promise<void>): Promise<void> {
    const tail = this.tail;
    if (this.state === "committed" && !this.readHandle) return committed(r);
    if ((this.state === "failed" && !this.verified) || !tail) {
      throw this.error ?? new RegistryError("BLOB_UNKNOWN", "blob download failed");
    }
    this.readers++;
    try {
      r.begin();
      const pair = new BufferPair();
      const size = this.size ?? 0;
      const end = r.start + r.length - 1;
      let pos = r.start;
      await pump(r.sink, async () => {
        for (;;) {
          // Verified bytes stay good even if the commit fails afterwards (the read handle keeps the file).
          if (this.state === "failed" && !this.verified)
            throw this.error ?? new Error("blob download failed");
          if (pos > end) {
            // A reader that ends with the blob's last byte gets that byte only once the digest matched: a client
            // must never see a complete body of bad bytes. Ranges that end earlier can't be verified by anyone.
            if (end === size - 1 && !this.verified) {
              await this.progress();
              continue;
            }
            return undefined;
          }
          const released = this.verified ? tail.received : Math.min(tail.received, size - 1);
          const available = Math.min(released, end + 1) - pos;
          if (available <= 0) {
            await this.progress();
            continue;
          }
          const chunk = await tail.read(pos, Math.min(BufferPair.CHUNK, available), pair);
          pos += chunk.length;
          return chunk;
        }
      });
      pair.release();
    } finally {
      this.readers--;
      this.settle();
    }
  }
}
