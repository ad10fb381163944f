import type { ServerResponse } from "node:http";
import { RegistryError } from "../errors/oci-errors.js";
import type { Middleware } from "../http/compose.js";
import type { RequestContext, Route } from "../http/context.js";
import type { Lifecycle } from "../lifecycle/lifecycle.js";
import { checkAdminAccess } from "./access.js";
import { readJson, sendAdminJson } from "./respond.js";

/** What an admin handler gets: the lifecycle, the request's JSON body and query, and the response. */
export interface AdminRequest {
  lifecycle: Lifecycle;
  body: Record<string, unknown>;
  query: RequestContext["query"];
  res: ServerResponse;
}

export interface AdminRoute {
  method: "GET" | "POST" | "DELETE";
  path: string;
  /** Returns a JSON body to send, or undefined when it answered itself (a stream). */
  handle: (r: AdminRequest) => Promise<unknown>;
}

/** A required string field of a JSON body. */
export function field(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== "string" || v === "")
    throw new RegistryError("REQUEST_INVALID", `expected a string "${name}"`);
  return v;
}

const ADMIN_ROUTE: Route = {
  name: "admin",
  methods: ["GET", "POST", "DELETE"],
  path: "/admin/",
  handle: async () => {},
};

/**
 * The admin API, on the registry's port under `/admin/`: the operator commands (`hubmirror gc`, `prefetch`, …) act
 * on the running server through it. Loopback callers, or the admin token (see checkAdminAccess).
 */
export function adminApi(
  lifecycle: Lifecycle,
  token: string | undefined,
  routes: readonly AdminRoute[],
): Middleware<RequestContext> {
  const table = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
  return async (ctx, next) => {
    if (!ctx.path.startsWith("/admin/")) return next(ctx);
    ctx.route = ADMIN_ROUTE;
    checkAdminAccess(ctx.req, token);
    const route = table.get(`${ctx.req.method} ${ctx.path}`);
    if (!route) {
      const known = routes.some((r) => r.path === ctx.path);
      throw new RegistryError(
        known ? "UNSUPPORTED" : "NOT_FOUND",
        `no admin route ${ctx.req.method} ${ctx.path}`,
      );
    }
    const body = ctx.req.method === "GET" ? {} : await readJson(ctx.req);
    const answer = await route.handle({ lifecycle, body, query: ctx.query, res: ctx.res });
    if (answer !== undefined) sendAdminJson(ctx.res, answer);
  };
}
