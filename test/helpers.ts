// Small helpers shared by the tests, the fixtures and the bench.
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

/** The sha256 of `data` in hex, without the algorithm: a blob store's file name. */
export const sha256Hex = (data: string | Buffer): string => createHash("sha256").update(data).digest("hex");

/** The OCI digest of `data`: `sha256:<hex>`. */
export const sha256Digest = (data: string | Buffer): string => `sha256:${sha256Hex(data)}`;

/** The code of the first error in an OCI error body, e.g. `BLOB_UNKNOWN`. */
export const errorCode = (body: Buffer): string => JSON.parse(body.toString()).errors[0].code;

/**
 * Resolves once a mirror has no blob download in progress (a fill commits just after its clients got the last
 * byte), or after 10 s; `fillsInFlight` reads its `hubmirror_blob_fills_in_flight` gauge.
 */
export async function fillsSettled(fillsInFlight: () => Promise<number>): Promise<void> {
  for (let i = 0; i < 400 && (await fillsInFlight()) > 0; i++) await sleep(25);
}

/** Hashes a body as it streams: its `sha256:` digest and length; `onBytes` sees the running count. */
export async function streamDigest(
  body: AsyncIterable<Buffer>,
  onBytes: (received: number) => void = () => {},
): Promise<{ digest: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    size += chunk.length;
    onBytes(size);
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/** Polls `check` every 25 ms until it holds; throws after `ms`, naming `what`. */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !(await check()); await sleep(25)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}
