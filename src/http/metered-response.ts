import { type IncomingMessage, ServerResponse } from "node:http";

function byteLength(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === "string") {
    return Buffer.byteLength(chunk, typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8");
  }
  return chunk instanceof Uint8Array ? chunk.byteLength : 0;
}

/**
 * A response that counts the body bytes it was given, whichever handler wrote them, so the access log can't
 * depend on each handler remembering to count. A subclass (`createServer({ ServerResponse })`) rather than
 * wrapping write/end per request: no closures, and every response keeps one shape. Generic like its base, so a
 * server built with it is still a plain `Server`.
 */
export class MeteredResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  bodyBytes = 0;

  // Node drops a HEAD response's body, so it isn't counted.
  override write(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    if (this.req.method !== "HEAD") this.bodyBytes += byteLength(chunk, encoding);
    return super.write(chunk, encoding as BufferEncoding, cb as (err?: Error | null) => void);
  }

  override end(chunk?: unknown, encoding?: unknown, cb?: unknown): this {
    if (this.req.method !== "HEAD") this.bodyBytes += byteLength(chunk, encoding);
    return super.end(chunk, encoding as BufferEncoding, cb as () => void);
  }
}
