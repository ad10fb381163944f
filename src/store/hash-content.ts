import type { Hash } from "node:crypto";
import { type FileReadResult, open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { BufferPair } from "./send-range.js";

/** Told how many more bytes were hashed (progress). */
export type OnBytes = (n: number) => void;

/**
 * Feeds a local file into `hash` to its end; returns its length. Reads into the two reused buffers of a
 * BufferPair, the next read in flight while the previous chunk is hashed: no allocation per chunk, and the disk
 * and the hash work at the same time.
 */
export async function hashFile(
  file: string,
  hash: Hash,
  onBytes: OnBytes,
  signal?: AbortSignal,
): Promise<number> {
  const handle = await open(file, "r");
  const pair = new BufferPair();
  let pending: Promise<FileReadResult<Buffer>> | undefined;
  let size = 0;
  try {
    pending = handle.read(pair.take(), 0, BufferPair.CHUNK, 0);
    for (;;) {
      const { bytesRead, buffer } = await pending;
      pending = undefined;
      if (bytesRead === 0) break;
      size += bytesRead;
      signal?.throwIfAborted();
      pending = handle.read(pair.take(), 0, BufferPair.CHUNK, size);
      hash.update(buffer.subarray(0, bytesRead));
      onBytes(bytesRead);
    }
    pair.release();
    return size;
  } finally {
    // A read still in flight (after an abort) must end before its handle closes; its buffers are not reused.
    await pending?.catch(() => {});
    await handle.close();
  }
}

/** Feeds a stream (storage without local files) into `hash`; returns its length. */
export async function hashStream(
  body: Readable,
  hash: Hash,
  onBytes: OnBytes,
  signal?: AbortSignal,
): Promise<number> {
  let size = 0;
  try {
    for await (const chunk of body) {
      signal?.throwIfAborted();
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      onBytes((chunk as Buffer).length);
    }
    return size;
  } finally {
    body.destroy();
  }
}
