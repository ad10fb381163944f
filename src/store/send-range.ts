import { open } from "node:fs/promises";
import type { Readable } from "node:stream";

/**
 * Where a blob's bytes go: resolves once the chunk has been handed on (its write callback), after which the
 * buffer may be reused. Awaiting it is also the backpressure of a slow client.
 */
export type ChunkSink = (chunk: Buffer) => Promise<void>;

/** A byte range and what to call once the bytes are sure to come (headers go out then, errors before). */
export interface RangeRequest {
  start: number;
  length: number;
  begin: () => void;
  sink: ChunkSink;
}

const CHUNK = 512 << 10;
/** Idle buffers kept for reuse; beyond this many, released ones are left to the GC. */
const POOL_MAX = 64;
const pool: Buffer[] = [];

/**
 * Two reusable read buffers. A fresh buffer per chunk (what a read stream does) made garbage collection the
 * largest cost of serving blobs; these are reused once the chunk written from them has been handed on.
 */
export class BufferPair {
  private readonly buffers = [
    pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK),
    pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK),
  ];
  private next = 0;

  static readonly CHUNK = CHUNK;

  /** The buffer not used by the previous call: with one write in flight, it is free. */
  take(): Buffer {
    const b = this.buffers[this.next] as Buffer;
    this.next ^= 1;
    return b;
  }

  /** Gives the buffers back; only when no write from them is in flight. */
  release(): void {
    for (const b of this.buffers) if (pool.length < POOL_MAX) pool.push(b);
  }
}

/**
 * Pipes produced chunks into the sink with one write in flight: the next chunk is produced while the previous one
 * is written. `produce` returns undefined at the end; it may fill a BufferPair buffer, which is free by then.
 */
export async function pump(sink: ChunkSink, produce: () => Promise<Buffer | undefined>): Promise<void> {
  let inflight: Promise<void> | undefined;
  for (;;) {
    const chunk = await produce();
    await inflight;
    if (!chunk) return;
    inflight = sink(chunk);
    // Handled here too: it may reject (client gone) while the next chunk is produced, before it is awaited.
    inflight.catch(() => {});
  }
}

/** Sends a range of a local file with reused buffers. Rejects if the sink fails or the file is short. */
export async function sendFileRange(file: string, r: RangeRequest): Promise<void> {
  const handle = await open(file, "r");
  r.begin();
  const pair = new BufferPair();
  let sent = 0;
  try {
    await pump(r.sink, async () => {
      if (sent >= r.length) return undefined;
      const buf = pair.take();
      const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, r.length - sent), r.start + sent);
      if (bytesRead === 0) throw new Error(`${file} ended ${r.length - sent} bytes early`);
      sent += bytesRead;
      return buf.subarray(0, bytesRead);
    });
    pair.release();
  } finally {
    await handle.close();
  }
}

/** Sends a stream (storage without local files) chunk by chunk into the sink. */
export async function sendStream(open: () => Promise<Readable>, r: RangeRequest): Promise<void> {
  const body = await open();
  r.begin();
  try {
    for await (const chunk of body) await r.sink(chunk as Buffer);
  } finally {
    body.destroy();
  }
}
