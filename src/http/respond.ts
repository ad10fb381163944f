import type { RequestContext } from "./context.js";

export const STALE_WARNING = '110 hubmirror "Response is Stale"';

/** A 200 JSON answer; HEAD gets the headers only. */
export function sendJson(
  ctx: RequestContext,
  body: Buffer | string,
  headers: Record<string, string> = {},
): void {
  const buf = typeof body === "string" ? Buffer.from(body) : body;
  ctx.res.writeHead(200, { "Content-Type": "application/json", "Content-Length": buf.length, ...headers });
  ctx.res.end(ctx.head ? undefined : buf);
}
