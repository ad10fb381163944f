import { RegistryError, sendError, toRegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { Middleware, Next } from "./compose.js";
import { asRepoContext, type RequestContext, type Services } from "./context.js";

type Layer = Middleware<RequestContext>;

/** One JSON line per request, once its response is closed (settle, further in, waits for that). */
export function accessLog(log: Logger): Layer {
  return async (ctx, next) => {
    await next(ctx);
    log.info(
      {
        method: ctx.req.method,
        path: ctx.req.url,
        registry: ctx.key?.registry,
        status: ctx.status,
        bytes: ctx.res.bodyBytes,
        ms: Math.round((performance.now() - ctx.started) * 10) / 10,
        cache: ctx.cache,
        user: ctx.principal?.name,
      },
      "request",
    );
  };
}

/** The request counters, and the usage statistics (buffered in memory, written in batches). */
export function usage(s: Pick<Services, "metrics" | "stats">): Layer {
  return async (ctx, next) => {
    await next(ctx);
    const route = ctx.route.name;
    s.metrics.httpRequests.inc({ method: ctx.req.method ?? "", route, status: String(ctx.status) });
    if (ctx.key)
      s.metrics.registryRequests.inc({ registry: ctx.key.registry, route, cache: ctx.cache ?? "none" });
    s.stats.record(ctx);
  };
}

/** Returns once the response is closed, with its final status: the layers outside it see the whole request. */
export const settle: Layer = async (ctx, next) => {
  await next(ctx);
  const { res } = ctx;
  if (!res.closed) await new Promise((closed) => res.once("close", closed));
  ctx.status = res.writableFinished ? res.statusCode : 499;
};

export const apiVersion: Layer = (ctx, next) => {
  ctx.res.setHeader("Docker-Distribution-API-Version", "registry/2.0");
  return next(ctx);
};

/** The one place errors become OCI responses. */
export function errors(log: Logger): Layer {
  return async (ctx, next) => {
    try {
      await next(ctx);
    } catch (err) {
      const e = toRegistryError(err);
      // A client that left mid-answer broke the write: normal behaviour, no one to answer, nothing to act on.
      if ((ctx.res.destroyed || ctx.req.socket.destroyed) && !ctx.res.writableFinished) {
        log.debug({ path: ctx.req.url, err: (err as Error).message }, "client went away");
        return;
      }
      // What the operator must act on; a client's mistake or an upstream's answer is not.
      if (e.code === "UNKNOWN" || e.code === "STORAGE_UNAVAILABLE") {
        log.error({ err: e.cause ?? err, path: ctx.req.url }, e.message);
      }
      if (!ctx.res.headersSent) sendError(ctx.res, e, ctx.head);
      // Headers are out: the only honest signal left is to cut the connection, so no client keeps a short body.
      else ctx.res.destroy(e);
    }
  };
}

export const readOnly: Layer = (ctx, next) => {
  const method = ctx.req.method;
  if (method !== "GET" && method !== "HEAD") {
    throw new RegistryError("UNSUPPORTED", `${method} is not supported: this registry is a read-only mirror`);
  }
  return next(ctx);
};

/** Resolves a repository route's upstream and name, once per request; handlers take both from the context. */
export function repository(upstreams: Services["upstreams"]): Layer {
  return (ctx, next) => {
    if (ctx.route.repo) {
      const routed = upstreams.resolve(ctx.query.get("ns"), ctx.req.headers.host, ctx.rawName);
      ctx.upstream = routed.upstream;
      ctx.key = routed.key;
    }
    return next(ctx);
  };
}

/** The innermost step: the route's handler. */
export function dispatch(s: Services): Next<RequestContext> {
  return (ctx) => {
    const { route } = ctx;
    return route.repo ? route.repo(s, asRepoContext(ctx)) : route.handle(s, ctx);
  };
}
