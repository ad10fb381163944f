import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { backoff } from "../async/backoff.js";
import { localWriteKind } from "../errors/local-write.js";
import { RegistryError } from "../errors/oci-errors.js";
import { digestAlgorithm, digestHex } from "../reference/reference.js";
import { BufferPair, pump, type RangeRequest } from "../store/send-range.js";
import {
  BlobMismatchError,
  FillAbandonedError,
  FillGapError,
  type FillOptions,
  resumable,
} from "./fill-contract.js";
import { FillOutput } from "./fill-output.js";
import { FillTail } from "./fill-tail.js";

const RESUME_BACKOFF = { baseMs: 250, maxMs: 5000 };
/** How long a pass-through waits for a reader (its first one, or a new one) before it stops. */
const ABANDON_MS = 10_000;

/**
 * One upstream download of one blob, shared by every client that wants it. Bytes are hashed as they arrive and
 * kept in a FillTail (recent bytes in memory, all of them on disk); each client streams from it at its own pace,
 * so nobody waits for the whole blob and nobody causes a second download. The fill runs detached from any client:
 * it finishes (and caches) even when every client has gone. Only bytes whose digest and length match are
 * committed; otherwise every reader fails.
 *
 * A local write that fails (a full disk: ENOSPC, EIO) is not an upstream failure: the download is never retried
 * for it. Writing stops and the download goes on as a pass-through to the clients reading it, verified as always,
 * and nothing is committed; the same when the disk lacks room for the blob from the start, or it is not to be kept.
 */
export class BlobFill {
  size: number | undefined;
  /** Resolves with the blob's size once upstream answered; rejects if it never does. */
  readonly ready: Promise<number>;
  /** Resolves once committed, or streamed through without keeping it; rejects on any failure. */
  readonly done: Promise<void>;
  private state: "running" | "committed" | "failed" = "running";
  /** False when the verified blob was streamed through and not kept (see FillOptions.keep, onDegraded). */
  kept = true;
  /** Why caching stopped: a local write failure, or too little room. */
  degraded: Error | undefined;
  /** The bytes matched the digest: readers may finish, even while the commit (fsync, rename) is under way. */
  private verified = false;
  private error: Error | undefined;
  private waiters: (() => void)[] = [];
  private tail: FillTail | undefined;
  private readHandle: FileHandle | undefined;
  private readers = 0;
  private abandonTimer: NodeJS.Timeout | undefined;
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
    const out = await FillOutput.open(this.o.writer, this.o.spoolDir).catch((err: Error) => {
      if (!localWriteKind(err)) throw err;
      return err;
    });
    const output = out instanceof FillOutput ? out : undefined;
    this.readHandle = output?.readHandle;
    const tail = new FillTail(
      (batch, offset) => (output as FillOutput).write(batch, offset),
      this.readHandle,
      (why) => this.degrade(why),
    );
    this.tail = tail;
    if (!output) this.degrade(out as Error);
    try {
      const hash = createHash(digestAlgorithm(digest));
      await this.download(tail, hash, output);
      const actual = hash.digest("hex");
      if (actual !== digestHex(digest)) {
        throw new BlobMismatchError(
          `upstream sent bytes for ${digest} that hash to ${digestAlgorithm(digest)}:${actual}`,
        );
      }
      this.verified = true;
      this.wake();
      await tail.drain();
      if (output && !tail.stopped) {
        try {
          await output.commit(this.size ?? 0);
          this.state = "committed";
          return;
        } catch (err) {
          // Readers have every byte already; a disk or database too full to store the blob only costs the cache.
          if (!localWriteKind(err)) throw err;
          this.degrade(err as Error);
        }
      }
      this.kept = false;
      await output?.discard();
      this.state = "committed";
    } catch (err) {
      // Fail readers before anything else: none may take a partial body for a whole one.
      this.state = "failed";
      this.error = err as Error;
      this.wake();
      await tail.drain();
      await output?.discard();
      throw this.error;
    } finally {
      clearTimeout(this.abandonTimer);
      await output?.close();
      this.wake();
    }
  }

  /** Caching stops (once): the download goes on as a pass-through. */
  private degrade(why: Error): void {
    if (this.degraded) return;
    this.degraded = why;
    this.tail?.stop(why);
    this.o.onDegraded?.(why);
    this.watchReaders();
  }

  /** Once upstream told the size: whether to write at all (kept, and room on the disk for it). */
  private async decide(tail: FillTail, size: number, output: FillOutput | undefined): Promise<void> {
    if (this.o.keep && !this.o.keep(size)) {
      tail.stop(new Error("not kept"));
      this.watchReaders();
      return;
    }
    const noRoom = await output?.room(size);
    if (noRoom) this.degrade(noRoom);
  }

  /** A pass-through without readers keeps nothing for anyone: it stops unless one comes within ABANDON_MS. */
  private watchReaders(): void {
    if (this.readers > 0 || this.abandonTimer || this.state !== "running" || !this.tail?.stopped) return;
    this.abandonTimer = setTimeout(() => {
      this.abandonTimer = undefined;
      if (this.readers === 0) this.tail?.abort(new FillAbandonedError("no client is reading it"));
    }, ABANDON_MS);
    this.abandonTimer.unref();
  }

  private async download(
    tail: FillTail,
    hash: ReturnType<typeof createHash>,
    output: FillOutput | undefined,
  ): Promise<void> {
    for (let resumes = 0; ; resumes++) {
      try {
        const { totalSize, body } = await this.o.open(tail.received);
        if (this.size === undefined) {
          this.size = totalSize;
          await this.decide(tail, totalSize, output);
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
    if (this.state === "committed" && this.kept && !this.readHandle) return committed(r);
    if ((this.state === "failed" && !this.verified) || !tail) {
      throw this.error ?? new RegistryError("BLOB_UNKNOWN", "blob download failed");
    }
    // A pass-through that is over (or has no reader left to keep its bytes) has nothing more to give.
    const open = this.state === "running" || this.readers > 0;
    const cursor = open ? tail.attach(r.start) : undefined;
    if (!cursor) throw new FillGapError(`the download of ${this.o.digest} has moved on`);
    this.readers++;
    clearTimeout(this.abandonTimer);
    this.abandonTimer = undefined;
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
          tail.advance(cursor, pos);
          return chunk;
        }
      });
      pair.release();
    } finally {
      tail.detach(cursor);
      this.readers--;
      this.watchReaders();
      this.settle();
    }
  }
}
