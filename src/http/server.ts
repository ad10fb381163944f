import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import type { Logger } from "../log/logger.js";
import type { TlsEndpoint } from "../tls/tls-endpoint.js";
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

/** HTTPS: the certificate, and how long a TLS handshake may take. */
export interface EdgeTls {
  endpoint: TlsEndpoint;
  handshakeTimeout: number;
}

/** The HTTP edge: the middleware onion, composed once, around the route table's handlers; HTTPS with `tls`. */
export function createRegistryServer(
  s: Services,
  log: Logger,
  layers: EdgeLayers = {},
  tls?: EdgeTls,
): Server {
  const run = compose(
    [
      accessLog(log),
      usage(s),
      settle,
      apiVersion,
      errors(log),
      ...(layers.front ?? []),
      readOnly,
      router(ROUTES),
      repository(s.upstreams),
      ...(layers.auth ? [layers.auth] : []),
    ],
    dispatch(s),
  );
  const failed = (err: unknown) => log.error({ err }, "request pipeline failed");
  const options = { keepAliveTimeout: 65_000, requestTimeout: 0, ServerResponse: MeteredResponse };
  const handler: RequestListener<typeof IncomingMessage, typeof MeteredResponse> = (req, res) => {
    run(new RequestContext(req, res)).catch(failed);
  };
  // Over TLS the same onion and response class: only the socket underneath differs.
  return tls
    ? tls.endpoint.createServer(options, handler, tls.handshakeTimeout)
    : createServer(options, handler);
}
