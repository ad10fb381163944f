import { CONSOLE_DIR, StaticSite } from "../console/static-site.js";
import { RegistryError } from "../errors/oci-errors.js";
import { handleStats } from "../stats/stats-handler.js";
import { handleBase, handleHealth, handleMetrics } from "./base-handlers.js";
import { handleBlob } from "./blob-handler.js";
import type { Middleware } from "./compose.js";
import type { RequestContext, Route } from "./context.js";
import { handleCatalog, handleReferrers, handleTags } from "./listing-handler.js";
import { handleManifest } from "./manifest-handler.js";

const READ = ["GET", "HEAD"] as const;
const consoleSite = new StaticSite(CONSOLE_DIR);

/**
 * The registry's routes. Names may contain slashes, so the patterns anchor the verb at the end; the hot route
 * comes first, and uploads before blobs, which would otherwise take `uploads` for a digest.
 */
export const ROUTES: readonly Route[] = [
  { name: "base", methods: READ, path: "/v2/", handle: handleBase },
  { name: "base", methods: READ, path: "/v2", handle: handleBase },
  { name: "catalog", methods: READ, path: "/v2/_catalog", handle: handleCatalog },
  { name: "metrics", methods: READ, path: "/metrics", handle: handleMetrics },
  { name: "health", methods: READ, path: "/healthz", handle: handleHealth },
  { name: "stats", methods: READ, path: "/api/stats", handle: handleStats },
  { name: "manifests", methods: READ, path: /^\/v2\/(.+?)\/manifests\/([^/]+)$/, repo: handleManifest },
  { name: "uploads", methods: READ, path: /^\/v2\/(.+?)\/blobs\/uploads(?:\/.*)?$/, handle: refuseUploads },
  { name: "blobs", methods: READ, path: /^\/v2\/(.+?)\/blobs\/([^/]+)$/, repo: handleBlob },
  { name: "tags", methods: READ, path: /^\/v2\/(.+?)\/tags\/list$/, repo: handleTags },
  { name: "referrers", methods: ["GET"], path: /^\/v2\/(.+?)\/referrers\/([^/]+)$/, repo: handleReferrers },
  // The web console: its page at the root, its content-hashed files under /assets/.
  { name: "console", methods: READ, path: "/", handle: consoleSite.handle },
  { name: "console", methods: READ, path: /^\/assets\/[^/]+$/, handle: consoleSite.handle },
];

async function refuseUploads(): Promise<void> {
  throw new RegistryError("UNSUPPORTED", "uploads are not supported: this registry is a read-only mirror");
}

/** Finds the request's route: exact paths by lookup, then the patterns in order; else the context's NOT_FOUND. */
export function router(routes: readonly Route[]): Middleware<RequestContext> {
  const exact = new Map<string, Route>();
  const patterns: (Route & { path: RegExp })[] = [];
  for (const r of routes) {
    if (typeof r.path === "string") exact.set(r.path, r);
    else patterns.push(r as Route & { path: RegExp });
  }
  return (ctx, next) => {
    const route = exact.get(ctx.path);
    if (route) {
      ctx.route = route;
    } else {
      for (const r of patterns) {
        const m = r.path.exec(ctx.path);
        if (!m) continue;
        ctx.route = r;
        ctx.rawName = m[1] ?? "";
        ctx.ref = m[2] ?? "";
        break;
      }
    }
    if (!ctx.route.methods.includes(ctx.req.method ?? "")) {
      throw new RegistryError("UNSUPPORTED", `${ctx.req.method} is not supported on ${ctx.route.name}`);
    }
    return next(ctx);
  };
}
