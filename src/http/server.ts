import { createServer, type Server } from "node:http";
import { RegistryError, sendError, toRegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import { parseName } from "../reference/reference.js";
import { handleBlob } from "./blob-handler.js";
import type { RequestContext, Services } from "./context.js";
import { handleCatalog, handleReferrers, handleTags } from "./listing-handler.js";
import { handleManifest } from "./manifest-handler.js";

const API_VERSION = { "Docker-Distribution-API-Version": "registry/2.0" };
const READ_METHODS = new Set(["GET", "HEAD"]);
// name, then what follows it; the name may contain slashes, so the verb part is anchored at the end.
const REPO_ROUTE = /^\/v2\/(.+?)\/(manifests|blobs|referrers)\/([^/]+)$/;
const TAGS_ROUTE = /^\/v2\/(.+?)\/tags\/list$/;
const UPLOAD_ROUTE = /^\/v2\/(.+?)\/blobs\/uploads(\/.*)?$/;

type Route =
  | "base"
  | "catalog"
  | "manifests"
  | "blobs"
  | "referrers"
  | "tags"
  | "metrics"
  | "health"
  | "none";

/** The HTTP edge: routing, validation, the access log and the one place errors become OCI responses. */
export function createRegistryServer(s: Services, log: Logger): Server {
  const server = createServer({ keepAliveTimeout: 65_000, requestTimeout: 0 }, (req, res) => {
    const started = performance.now();
    const ctx: RequestContext = {
      req,
      res,
      head: req.method === "HEAD",
      query: new URLSearchParams(),
      key: { registry: s.defaultRegistry, repo: "" },
      bytes: 0,
    };
    let route: Route = "none";
    res.once("close", () => {
      const status = res.writableFinished ? res.statusCode : 499;
      s.metrics.httpRequests.inc({ method: req.method ?? "", route, status: String(status) });
      // Persistent usage totals for the console; buffered by the store, never a write per request.
      s.meta.addCounters({ requests: 1, [`${route}_${ctx.cache ?? "none"}`]: 1, bytes_served: ctx.bytes });
      log.info(
        {
          method: req.method,
          path: req.url,
          status,
          bytes: ctx.bytes,
          ms: Math.round((performance.now() - started) * 10) / 10,
          cache: ctx.cache,
        },
        "request",
      );
    });
    for (const [k, v] of Object.entries(API_VERSION)) res.setHeader(k, v);
    dispatch(s, ctx, (r) => {
      route = r;
    }).catch((err: unknown) => {
      const e = toRegistryError(err);
      if (e.code === "UNKNOWN") log.error({ err, path: req.url }, "internal error");
      if (!res.headersSent) sendError(res, e, ctx.head);
      // Headers are out: the only honest signal left is to cut the connection, so no client keeps a short body.
      else res.destroy(e);
    });
  });
  return server;
}

async function dispatch(s: Services, ctx: RequestContext, setRoute: (r: Route) => void): Promise<void> {
  const { req, res } = ctx;
  const raw = req.url ?? "/";
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  ctx.query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const ns = ctx.query.get("ns");
  if (ns) ctx.key.registry = ns;

  if (path === "/metrics" || path === "/healthz") {
    setRoute(path === "/metrics" ? "metrics" : "health");
    const body = path === "/metrics" ? await s.metrics.registry.metrics() : "ok\n";
    res.writeHead(200, {
      "Content-Type": path === "/metrics" ? s.metrics.registry.contentType : "text/plain",
    });
    res.end(body);
    return;
  }
  if (!path.startsWith("/v2")) throw new RegistryError("NOT_FOUND", `no route for ${path.slice(0, 200)}`);
  if (!READ_METHODS.has(req.method ?? "")) {
    throw new RegistryError(
      "UNSUPPORTED",
      `${req.method} is not supported: this registry is a read-only mirror`,
    );
  }
  if (path === "/v2/" || path === "/v2") {
    setRoute("base");
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": 2 });
    res.end(ctx.head ? undefined : "{}");
    return;
  }
  if (path === "/v2/_catalog") {
    setRoute("catalog");
    return handleCatalog(s, ctx);
  }
  if (UPLOAD_ROUTE.test(path)) {
    throw new RegistryError("UNSUPPORTED", "uploads are not supported: this registry is a read-only mirror");
  }
  const tags = TAGS_ROUTE.exec(path);
  const m = tags ? undefined : REPO_ROUTE.exec(path);
  const name = tags?.[1] ?? m?.[1];
  if (!name) throw new RegistryError("NOT_FOUND", `no route for ${path.slice(0, 200)}`);
  // Resolve the upstream first: an unknown ?ns= is NAME_UNKNOWN whatever the name looks like.
  s.upstreams(ctx.key.registry);
  ctx.key.repo = parseName(name, ctx.key.registry);
  if (tags) {
    setRoute("tags");
    return handleTags(s, ctx);
  }
  const [, , verb, ref] = m as RegExpExecArray;
  setRoute(verb as Route);
  if (verb === "manifests") return handleManifest(s, ctx, ref as string);
  if (verb === "blobs") return handleBlob(s, ctx, ref as string);
  if (ctx.head) throw new RegistryError("UNSUPPORTED", "HEAD is not supported on referrers");
  return handleReferrers(s, ctx, ref as string);
}
