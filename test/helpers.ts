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
