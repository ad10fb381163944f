import { type FileHandle, open, rm, statfs } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { FileWriter } from "../storage/driver.js";
import { writeAll } from "../storage/fs-driver.js";
import { tempName } from "../storage/temp-files.js";

/** Read size when feeding object storage from the spool. */
const UPLOAD_CHUNK = 1 << 20;

/** The disk has less room than a blob needs: caching it is refused before any byte is written. */
export class NoRoomError extends Error {
  readonly code = "ENOSPC";
}

/**
 * Where one fill's bytes go: the storage writer (visible only on commit), and a local file readers behind the
 * download's head read from. That is the driver's own temp file when it has one; otherwise (object storage) a
 * spool copy, uploaded once the blob is verified.
 */
export class FillOutput {
  private constructor(
    private readonly writer: FileWriter,
    /** Shared by the fill's readers; the fill closes it once the last one is done. */
    readonly readHandle: FileHandle,
    private readonly readPath: string,
    private readonly spool: FileHandle | undefined,
  ) {}

  static async open(writer: () => Promise<FileWriter>, spoolDir: string): Promise<FillOutput> {
    const w = await writer();
    let spool: FileHandle | undefined;
    const readPath = w.localPath ?? join(spoolDir, tempName());
    try {
      if (!w.localPath) spool = await open(readPath, "w");
      return new FillOutput(w, await open(readPath, "r"), readPath, spool);
    } catch (err) {
      await spool?.close().catch(() => {});
      if (spool) await rm(readPath, { force: true });
      await w.cancel().catch(() => {});
      throw err;
    }
  }

  /** Writes a batch at `offset` (the bytes before it are written). */
  async write(batch: Buffer[], offset: number): Promise<void> {
    if (this.spool) await writeAll(this.spool, batch, offset);
    else await this.writer.write(batch);
  }

  /** A NoRoomError when the disk holds less free space than `size` bytes; undefined when it has (or can't tell). */
  async room(size: number): Promise<NoRoomError | undefined> {
    const s = await statfs(dirname(this.readPath)).catch(() => undefined);
    const free = s ? s.bavail * s.bsize : Number.POSITIVE_INFINITY;
    return free >= size
      ? undefined
      : new NoRoomError(`${free} bytes free on the disk, the blob needs ${size}`);
  }

  /**
   * Makes the verified bytes visible. Storage without a local file (object storage) gets the blob from the spool
   * once it is verified, as Distribution stores after serving: the download and its clients never wait for the
   * upload (on a 2-core machine uploading alongside slowed cold pulls by a third), and a lying upstream costs no
   * upload at all.
   */
  async commit(size: number): Promise<void> {
    if (this.spool) await this.upload(size);
    await this.writer.commit();
  }

  /** Drops what was written. Readers keep reading the open file after the temp copy is removed. */
  async discard(): Promise<void> {
    await this.writer.cancel().catch(() => {});
  }

  /** Removes the spool copy (readers keep reading it through readHandle). */
  async close(): Promise<void> {
    if (!this.spool) return;
    await this.spool.close().catch(() => {});
    await rm(this.readPath, { force: true });
  }

  /** Copies the whole spooled blob to the storage writer, one reused buffer at a time. */
  private async upload(size: number): Promise<void> {
    const buf = Buffer.allocUnsafeSlow(UPLOAD_CHUNK);
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await this.readHandle.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) throw new Error(`spool ended at ${pos} of ${size} bytes`);
      // The writer is done with the bytes when write() resolves, so the buffer is reused.
      await this.writer.write(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  }
}
