import type { FileHandle } from "node:fs/promises";
import type { BufferPair } from "../store/send-range.js";

/** Bytes kept in memory behind the download's head, so readers near it never touch the disk. */
const KEEP_BYTES = 4 << 20;
/** Received but unwritten bytes above which the download waits for the disk, until they are down to half. */
const MAX_PENDING_BYTES = 8 << 20;
/** Largest single disk write (one writev); batches form while a write is in flight. */
const MAX_BATCH_BYTES = 4 << 20;
/** Well under IOV_MAX (1024), the most buffers one writev takes. */
const MAX_BATCH_CHUNKS = 512;

/**
 * The bytes of one download: the most recent in memory, every earlier one in a file. Writes are batched (while one
 * is in flight the next batch grows), so a fast upstream costs few syscalls, and readers at the head are served
 * from memory without copying. Invariant: bytes [0, tailStart) are in the file; [tailStart, received) in memory.
 */
export class FillTail {
  received = 0;
  written = 0;
  private readonly chunks: Buffer[] = [];
  private tailStart = 0;
  private tailBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushing: Promise<void> | undefined;
  private error: Error | undefined;
  private resume: (() => void) | undefined;

  constructor(
    private readonly sink: (batch: Buffer[], offset: number) => Promise<void>,
    private readonly file: FileHandle,
  ) {}

  /** Takes a chunk; returns a promise to await before the next one when the disk is behind (or has failed). */
  append(chunk: Buffer): Promise<void> | undefined {
    if (this.error) throw this.error;
    this.chunks.push(chunk);
    this.tailBytes += chunk.length;
    this.received += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.flushing ??= this.flush();
    if (this.pendingBytes <= MAX_PENDING_BYTES) return undefined;
    return new Promise((resolve) => {
      this.resume = resolve;
    });
  }

  private wakeWriter(force: boolean): void {
    if (this.resume && (force || this.pendingBytes <= MAX_PENDING_BYTES / 2)) {
      const resume = this.resume;
      this.resume = undefined;
      resume();
    }
  }

  /** Resolves when every received byte is in the file. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.error) throw this.error;
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const [batch, bytes] = this.takeBatch();
        await this.sink(batch, this.written);
        this.written += bytes;
        this.trim();
        this.wakeWriter(false);
      }
    } catch (err) {
      this.error = err as Error;
    } finally {
      this.flushing = undefined;
      this.wakeWriter(true);
    }
  }

  private takeBatch(): [Buffer[], number] {
    let n = 0;
    let bytes = 0;
    while (
      n < this.pending.length &&
      (n === 0 || (n < MAX_BATCH_CHUNKS && bytes + (this.pending[n] as Buffer).length <= MAX_BATCH_BYTES))
    ) {
      bytes += (this.pending[n] as Buffer).length;
      n++;
    }
    const taken = this.pending.splice(0, n);
    this.pendingBytes -= bytes;
    return [taken, bytes];
  }

  /** Drops written chunks from memory beyond what readers near the head may still want. */
  private trim(): void {
    for (;;) {
      const first = this.chunks[0];
      if (
        !first ||
        this.tailBytes - first.length < KEEP_BYTES ||
        this.tailStart + first.length > this.written
      ) {
        return;
      }
      this.chunks.shift();
      this.tailStart += first.length;
      this.tailBytes -= first.length;
    }
  }

  /**
   * Up to `max` bytes at `pos` (< received): a view of memory when it is there, else read from the file into a
   * buffer of `pair`.
   */
  async read(pos: number, max: number, pair: BufferPair): Promise<Buffer> {
    if (pos >= this.tailStart) {
      let offset = this.tailStart;
      for (const chunk of this.chunks) {
        if (pos < offset + chunk.length)
          return chunk.subarray(pos - offset, Math.min(chunk.length, pos - offset + max));
        offset += chunk.length;
      }
      return Buffer.alloc(0);
    }
    const buf = pair.take();
    const { bytesRead } = await this.file.read(buf, 0, Math.min(max, buf.length, this.written - pos), pos);
    return buf.subarray(0, bytesRead);
  }
}
