import type { FileHandle } from "node:fs/promises";
import type { BufferPair } from "../store/send-range.js";

/** Bytes kept in memory behind the download's head, so readers near it never touch the disk. */
const KEEP_BYTES = 4 << 20;
/**
 * Received bytes the download may be ahead by, until they are down to half: unwritten ones while writing, and
 * ones the slowest reader has yet to read in a pass-through.
 */
const MAX_PENDING_BYTES = 8 << 20;
/** Largest single disk write (one writev); batches form while a write is in flight. */
const MAX_BATCH_BYTES = 4 << 20;
/** Well under IOV_MAX (1024), the most buffers one writev takes. */
const MAX_BATCH_CHUNKS = 512;

/** A reader's place in the download: the next byte it wants. */
export interface Cursor {
  pos: number;
}

/**
 * The bytes of one download: the most recent in memory, every earlier one in a file. Writes are batched (while one
 * is in flight the next batch grows), so a fast upstream costs few syscalls, and readers at the head are served
 * from memory without copying. Invariant: bytes [0, tailStart) are in the file; [tailStart, received) in memory.
 *
 * Once writing stops (a local write failed, or the blob is not to be kept) the download becomes a pass-through:
 * nothing more goes to the file, and the bytes after it stay in memory until every reader has read them. The
 * download then goes at its slowest reader's pace, with bounded memory, instead of failing its readers.
 */
export class FillTail {
  received = 0;
  written = 0;
  /** Why writing stopped; undefined while every byte goes to the file. */
  stopped: Error | undefined;
  private readonly chunks: Buffer[] = [];
  private tailStart = 0;
  private tailBytes = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushing: Promise<void> | undefined;
  private aborted: Error | undefined;
  private resume: (() => void) | undefined;
  private readonly cursors = new Set<Cursor>();

  /**
   * `file` reads what `sink` wrote: none when there is nothing to write to (then `stop` before any append).
   * `onStop` is told when writing stopped because the sink failed.
   */
  constructor(
    private readonly sink: (batch: Buffer[], offset: number) => Promise<void>,
    private readonly file: FileHandle | undefined,
    private readonly onStop: (why: Error) => void = () => {},
  ) {}

  /** Takes a chunk; returns a promise to await before the next one when the disk or the readers are behind. */
  append(chunk: Buffer): Promise<void> | undefined {
    if (this.aborted) throw this.aborted;
    this.chunks.push(chunk);
    this.tailBytes += chunk.length;
    this.received += chunk.length;
    if (!this.stopped) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      this.flushing ??= this.flush();
    } else {
      // Bytes no reader wants (all of them are further on, as a Range may be) are dropped at once.
      this.trim();
    }
    if (this.behind() <= MAX_PENDING_BYTES) return undefined;
    return new Promise((resolve) => {
      this.resume = resolve;
    });
  }

  /** Stops writing: from now on a pass-through. Bytes already written stay readable. */
  stop(why: Error): void {
    if (this.stopped) return;
    this.stopped = why;
    this.pending = [];
    this.pendingBytes = 0;
    this.trim();
    this.wakeWriter(false);
  }

  /** Fails the download at its next append (and wakes it if it waits for readers). */
  abort(why: Error): void {
    this.aborted ??= why;
    this.wakeWriter(true);
  }

  /** Follows a reader from `pos`; undefined when a pass-through has dropped bytes it would need. */
  attach(pos: number): Cursor | undefined {
    if (this.tailStart > Math.max(pos, this.written)) return undefined;
    const cursor = { pos };
    this.cursors.add(cursor);
    // A reader further on than every byte held frees them (a pass-through waiting for a first reader).
    if (this.stopped) this.release();
    return cursor;
  }

  /** The reader has had every byte before `pos`. */
  advance(cursor: Cursor, pos: number): void {
    cursor.pos = pos;
    if (this.stopped) this.release();
  }

  detach(cursor: Cursor): void {
    this.cursors.delete(cursor);
    if (this.stopped) this.release();
  }

  /** Resolves when no write is in flight: every received byte is in the file, unless writing stopped. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private behind(): number {
    return this.stopped ? this.tailBytes : this.pendingBytes;
  }

  private release(): void {
    this.trim();
    this.wakeWriter(false);
  }

  private wakeWriter(force: boolean): void {
    if (this.resume && (force || this.behind() <= MAX_PENDING_BYTES / 2)) {
      const resume = this.resume;
      this.resume = undefined;
      resume();
    }
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const [batch, bytes] = this.takeBatch();
        await this.sink(batch, this.written);
        // Bytes written after writing stopped are not counted: what follows them was never queued.
        if (this.stopped) return;
        this.written += bytes;
        this.trim();
        this.wakeWriter(false);
      }
    } catch (err) {
      this.stop(err as Error);
      this.onStop(err as Error);
    } finally {
      this.flushing = undefined;
      this.wakeWriter(false);
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

  /**
   * Drops chunks from memory: while writing, written ones beyond what readers near the head may still want; in a
   * pass-through, those in the file or already read by every reader (none dropped while no reader follows).
   */
  private trim(): void {
    let readFrom = this.tailStart;
    if (this.cursors.size > 0) readFrom = Math.min(...[...this.cursors].map((c) => c.pos));
    const upTo = Math.max(this.written, readFrom);
    for (;;) {
      const first = this.chunks[0];
      if (!first || this.tailStart + first.length > (this.stopped ? upTo : this.written)) return;
      if (!this.stopped && this.tailBytes - first.length < KEEP_BYTES) return;
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
    const file = this.file as FileHandle;
    const { bytesRead } = await file.read(buf, 0, Math.min(max, buf.length, this.written - pos), pos);
    return buf.subarray(0, bytesRead);
  }
}
