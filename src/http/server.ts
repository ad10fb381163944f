import { createServer, type Server } from "node:http";
import type { Logger } from "../log/logger.js";
import { compose, type Middleware } from "./compose.js";
import { RequestContext, type Services } from "./context.js";
import { MeteredResponse } from "./metered-response.js";
import {
  accessLog,
  apiVersion,
  dispatch,
  errors,
  readOnly,
  repository,
  settle,
  usage,
} from "./middleware.js";
import { ROUTES, router } from "./routes.js";

/**
 * The HTTP edge: the middleware onion, composed once, around the route table's handlers. `admin` (the admin API)
 * answers `/admin/` paths before the read-only registry layers see them.
 */
export function createRegistryServer(s: Services, log: Logger, admin?: Middleware<RequestContext>): Server {
  const run = compose(
    [
      accessLog(log),
      usage(s),
      settle,
      apiVersion,
      errors(log),
      ...(admin ? [admin] : []),
      readOnly,
      router(ROUTES),
      repository(s.upstreams),
      // Auth goes here: after the repository (its scope), before the handler; it sets ctx.principal.
    ],
    dispatch(s),
  );
  const failed = (err: unknown) => log.error({ err }, "request pipeline failed");
  return createServer(
    { keepAliveTimeout: 65_000, requestTimeout: 0, ServerResponse: MeteredResponse },
    (req, res) => {
      run(new RequestContext(req, res)).catch(failed);
    },
  );
}
