import { createServer, type Server } from "node:http";
import type { Logger } from "../log/logger.js";
import { answerEveryRequest, requireHost } from "./client-errors.js";
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

/** Layers that app.ts plugs into the onion. */
export interface EdgeLayers {
  /** APIs answered before the read-only registry layers see the request: the admin API, the users API. */
  front?: readonly Middleware<RequestContext>[];
  /** Registry auth (users mode): after the repository (its scope), before the handler; sets ctx.principal. */
  auth?: Middleware<RequestContext> | undefined;
}

/** The HTTP edge: the middleware onion, composed once, around the route table's handlers. */
export function createRegistryServer(s: Services, log: Logger, layers: EdgeLayers = {}): Server {
  const run = compose(
    [
      accessLog(log),
      usage(s),
      settle,
      apiVersion,
      errors(log),
      requireHost,
      ...(layers.front ?? []),
      readOnly,
      router(ROUTES),
      repository(s.upstreams),
      ...(layers.auth ? [layers.auth] : []),
    ],
    dispatch(s),
  );
  const failed = (err: unknown) => log.error({ err }, "request pipeline failed");
  const server = createServer(
    {
      keepAliveTimeout: 65_000,
      requestTimeout: 0,
      requireHostHeader: false,
      ServerResponse: MeteredResponse,
    },
    (req, res) => {
      run(new RequestContext(req, res)).catch(failed);
    },
  );
  answerEveryRequest(server, log, s.metrics);
  return server;
}
