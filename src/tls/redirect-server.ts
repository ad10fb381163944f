import { createServer, type IncomingMessage, type Server } from "node:http";

/** A Host header's host part (a name, an IPv4 address or a bracketed IPv6 one), with an optional port. */
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;

/** Where the request goes over HTTPS: the host it named, on `httpsPort`, with the same path and query. */
function httpsLocation(req: IncomingMessage, httpsPort: number): string | undefined {
  const host = HOST.exec(req.headers.host ?? "")?.[1];
  if (!host) return undefined;
  // An absolute-form or `*` target has no path of ours to keep.
  const path = req.url?.startsWith("/") ? req.url : "/";
  return `https://${host}${httpsPort === 443 ? "" : `:${httpsPort}`}${path}`;
}

/**
 * The optional plain-HTTP listener (`tls.redirectListen`): every request gets a 308, which keeps the method, to
 * the HTTPS server on `httpsPort`. Nothing is served over plain HTTP.
 */
export function createRedirectServer(httpsPort: number): Server {
  return createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    const location = httpsLocation(req, httpsPort);
    if (location) {
      res.writeHead(308, { Location: location, "Content-Length": 0 }).end();
      return;
    }
    const body = JSON.stringify({
      errors: [{ code: "UNSUPPORTED", message: "a Host header is needed to redirect to HTTPS" }],
    });
    res.writeHead(400, { "Content-Type": "application/json", "Content-Length": body.length }).end(body);
  });
}
