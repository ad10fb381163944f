import type { RequestContext, Services } from "../http/context.js";
import { sendJson } from "../http/respond.js";
import { parseStatsRange } from "./stats.js";

/**
 * GET /api/stats?range=1h|24h|30d|1y: the service's figures as JSON (README "Statistics"). Public in anonymous
 * mode: they are the service's own, with no client addresses or credentials in them.
 */
export async function handleStats(s: Services, ctx: RequestContext): Promise<void> {
  const report = await s.stats.report(parseStatsRange(ctx.query.get("range")));
  sendJson(ctx, JSON.stringify(report), { "Cache-Control": "no-store" });
}
