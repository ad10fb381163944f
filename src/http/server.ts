import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { type Limits, limitsSchema } from "../config/limits-schema.js";
import { ClientLimits } from "../limits/limits.js";
import type { Logger } from "../log/logger.js";
import type { TlsEndpoint } from "../tls/tls-endpoint.js";
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

/** The HTTP edge: the middleware onion, composed once, around the route table's handlers; HTTPS with `tls`. */
export function createRegistryServer(
  s: Services,
  log: Logger,
  layers: EdgeLayers = {},
  limits: Limits = limitsSchema.parse(undefined),
  tls?: TlsEndpoint,
): Server {
  const guard = new ClientLimits(limits, s.metrics, log);
  const run = compose(
    [
      accessLog(log),
      usage(s),
      settle,
      apiVersion,
      errors(log),
      requireHost,
      ...guard.layers(),
      ...(layers.front ?? []),
      readOnly,
      router(ROUTES),
      repository(s.upstreams),
      ...(layers.auth ? [layers.auth] : []),
    ],
    dispatch(s),
  );
  const failed = (err: unknown) => log.error({ err }, "request pipeline failed");
  // requireHost answers a missing Host with an OCI error, where Node's own check sends an empty 400.
  const options = { ...guard.serverOptions(), requireHostHeader: false, ServerResponse: MeteredResponse };
  const handler: RequestListener<typeof IncomingMessage, typeof MeteredResponse> = (req, res) => {
    run(new RequestContext(req, res)).catch(failed);
  };
  // Over TLS the same onion and response class: only the socket underneath differs. A handshake is bounded
  // like a request head.
  const server = tls
    ? tls.createServer(options, handler, limits.headerTimeout)
    : createServer(options, handler);
  guard.attach(server);
  answerEveryRequest(server, log, s.metrics, (code, socket) => guard.parseError(code, socket));
  return server;
}
