import type { Dispatcher } from "undici";
import { RegistryError } from "../errors/oci-errors.js";

/** Why an upstream answer was refused: the label of hubmirror_upstream_refused_total. */
export type RefusalReason = "too_large" | "too_slow" | "cut" | "malformed" | "mismatch" | "redirects";

/**
 * An upstream answer refused as broken or hostile: 502 to the client, nothing cached. The upstream is at fault,
 * never the client, so never a 4xx a client would take as final.
 */
export class UpstreamAnswerError extends RegistryError {
  /** Set once counted and logged: one token fetch's refusal reaches every request that waited on it. */
  reported = false;

  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super("UPSTREAM_ERROR", message);
  }
}

export interface BoundedRead {
  /** Most bytes accepted. */
  limit: number;
  /** The whole body must arrive within this: undici's bodyTimeout only bounds the gap between two chunks. */
  deadlineMs: number;
  /** Names the answer in errors, e.g. "token answer". */
  what: string;
  signal?: AbortSignal | undefined;
}

/**
 * A whole small answer (manifest, token, tag list) in memory. Refused, and the connection dropped, as soon as it
 * is known to pass `limit` (from its Content-Length, else when the bytes do) or once `deadlineMs` is over, so an
 * upstream can neither make us buffer a blob's worth of bytes nor hold a request with a body it drips forever.
 */
export async function readBounded(
  body: Dispatcher.ResponseData["body"],
  contentLength: string | undefined,
  o: BoundedRead,
): Promise<Buffer> {
  const tooLarge = () =>
    new UpstreamAnswerError("too_large", `upstream ${o.what} is larger than ${o.limit} bytes`);
  if (Number(contentLength) > o.limit) {
    body.destroy();
    throw tooLarge();
  }
  const timer = setTimeout(() => {
    body.destroy(
      new UpstreamAnswerError("too_slow", `upstream ${o.what} took longer than ${o.deadlineMs} ms`),
    );
  }, o.deadlineMs);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Leaving the loop early (throw) destroys the body, which closes the connection: nothing more is read.
    for await (const chunk of body) {
      size += (chunk as Buffer).length;
      if (size > o.limit) throw tooLarge();
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (o.signal?.aborted) throw o.signal.reason;
    if (err instanceof UpstreamAnswerError) throw err;
    throw new UpstreamAnswerError("cut", `upstream ${o.what} was cut short: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks);
}
