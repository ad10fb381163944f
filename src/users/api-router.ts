import { readJson, sendAdminJson } from "../admin/respond.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { Middleware } from "../http/compose.js";
import type { Query, RequestContext, Route } from "../http/context.js";
import type { Session, Sessions } from "./sessions.js";

/** Who may call a route: anyone, a signed-in user, or a signed-in admin. */
export type Access = "public" | "user" | "admin";

export interface ApiCall {
  ctx: RequestContext;
  body: Record<string, unknown>;
  query: Query;
  /** Set for "user" and "admin" routes; for public ones when the caller happens to be signed in. */
  session: Session | undefined;
}

export interface ApiRoute {
  method: "GET" | "POST" | "DELETE";
  path: string;
  access: Access;
  /** Returns the JSON body of a 200, or undefined when it answered itself (sendAdminJson with another status). */
  handle: (call: ApiCall) => Promise<unknown>;
}

const API_ROUTE: Route = {
  name: "api",
  methods: ["GET", "POST", "DELETE"],
  path: "/api/",
  handle: async () => {},
};

/**
 * The users JSON API: answers the paths of `routes` (and anything else under `prefixes`: 404/405), passing every
 * other request on, so the other `/api/` owners (statistics) coexist. State-changing calls go through the CSRF and
 * Origin checks; a body must be JSON (a cross-site form can't send that without a CORS preflight, which fails).
 * `enabled` false (anonymous mode) leaves only the public routes that say so.
 */
export function apiRouter(
  routes: readonly ApiRoute[],
  prefixes: readonly string[],
  sessions: Sessions,
  enabled: (route: ApiRoute) => boolean,
): Middleware<RequestContext> {
  const table = new Map(routes.map((r) => [`${r.method} ${r.path}`, r]));
  return async (ctx, next) => {
    if (!prefixes.some((p) => ctx.path === p || ctx.path.startsWith(`${p}/`))) return next(ctx);
    ctx.route = API_ROUTE;
    const method = ctx.req.method === "HEAD" ? "GET" : ctx.req.method;
    const route = table.get(`${method} ${ctx.path}`);
    if (!route) {
      const known = routes.some((r) => r.path === ctx.path);
      throw new RegistryError(
        known ? "UNSUPPORTED" : "NOT_FOUND",
        `no API route ${ctx.req.method} ${ctx.path.slice(0, 200)}`,
      );
    }
    if (!enabled(route)) throw new RegistryError("NOT_FOUND", "users mode is off (auth.mode: anonymous)");
    const session = await sessions.current(ctx.req);
    if (route.access !== "public" && !session) throw new RegistryError("UNAUTHORIZED", "sign in first");
    if (route.access === "admin" && !session?.user.admin) throw new RegistryError("DENIED", "admins only");
    let body: Record<string, unknown> = {};
    if (method !== "GET") {
      sessions.checkStateChange(ctx.req, route.access === "public" ? undefined : session);
      const length = Number(ctx.req.headers["content-length"] ?? 0);
      const json = /^application\/json\b/i.test(ctx.req.headers["content-type"] ?? "");
      if ((length > 0 || ctx.req.headers["transfer-encoding"]) && !json) {
        throw new RegistryError("REQUEST_INVALID", "expected a JSON body (Content-Type: application/json)");
      }
      body = await readJson(ctx.req);
    }
    const answer = await route.handle({ ctx, body, query: ctx.query, session });
    if (answer !== undefined) sendAdminJson(ctx.res, answer);
  };
}
