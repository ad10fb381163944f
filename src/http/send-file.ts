import { open } from "node:fs/promises";
import type { ServerResponse } from "node:http";

const CHUNK = 512 << 10;
/** Idle buffers kept for reuse; beyond this many, released ones are left to the GC. */
const POOL_MAX = 64;
const pool: Buffer[] = [];

function take(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
}

function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    res.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * Sends `length` bytes of a local file from `start` with two reused buffers: one is read into while the other is
 * being written. A buffer is reused only after its write callback, when the socket no longer holds it. A fresh
 * buffer per chunk (what a read stream does) made garbage collection the largest cost of serving warm blobs.
 * `writeHead` runs once the file is open, so a missing file is still an error response; `onSent` counts progress.
 * Rejects if the client goes away or the file is shorter than expected.
 */
export async function sendFile(
  res: ServerResponse,
  file: string,
  range: { start: number; length: number },
  writeHead: () => void,
  onSent: (bytes: number) => void,
): Promise<void> {
  const { start, length } = range;
  const handle = await open(file, "r");
  writeHead();
  const buffers = [take(), take()];
  let inflight: Promise<void> | undefined;
  let sent = 0;
  try {
    for (let i = 0; sent < length; i ^= 1) {
      const buf = buffers[i] as Buffer;
      const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, length - sent), start + sent);
      if (bytesRead === 0) throw new Error(`${file} ended ${length - sent} bytes early`);
      await inflight;
      inflight = write(res, buf.subarray(0, bytesRead)).then(() => onSent(bytesRead));
      // Handled here too: it may reject (client gone) while the next read is in flight, before it is awaited.
      inflight.catch(() => {});
      sent += bytesRead;
    }
    await inflight;
    for (const b of buffers) if (pool.length < POOL_MAX) pool.push(b);
    res.end();
  } finally {
    await handle.close();
  }
}
