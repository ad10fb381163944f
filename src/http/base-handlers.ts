import type { RequestContext, Services } from "./context.js";
import { sendJson } from "./respond.js";

const EMPTY_OBJECT = Buffer.from("{}");

/** GET /v2/: the API version check every client starts with. */
export async function handleBase(_s: Services, ctx: RequestContext): Promise<void> {
  sendJson(ctx, EMPTY_OBJECT);
}

export async function handleMetrics(s: Services, ctx: RequestContext): Promise<void> {
  const body = await s.metrics.registry.metrics();
  ctx.res.writeHead(200, { "Content-Type": s.metrics.registry.contentType });
  ctx.res.end(ctx.head ? undefined : body);
}

export async function handleHealth(_s: Services, ctx: RequestContext): Promise<void> {
  ctx.res.writeHead(200, { "Content-Type": "text/plain" });
  ctx.res.end(ctx.head ? undefined : "ok\n");
}
