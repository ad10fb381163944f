import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { type OciErrorCode, RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Middleware } from "./compose.js";
import type { RequestContext } from "./context.js";
import { answerAndClose, rawError } from "./raw-response.js";

/** Node's errors for a request it could not read, by the answer they get; any other HPE_* code is a 400. */
const PARSE_ERRORS: Record<string, OciErrorCode> = {
  HPE_HEADER_OVERFLOW: "HEADERS_TOO_LARGE",
  ERR_HTTP_REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
};

/**
 * Makes sure every request the server reads gets an answer, where Node would close the connection without one:
 * a request whose client half-closed (`shutdown(SHUT_WR)`) after sending it, a malformed request (also after good
 * ones on the same connection), and `CONNECT`. The answers are OCI error JSON, counted and logged like requests.
 */
export function answerEveryRequest(
  server: Server,
  log: Logger,
  metrics: Metrics,
  /** Reports a parse error that is a limit being hit (logged there, throttled): true if it was one. */
  limitHit: (code: string, socket: Duplex) => boolean = () => false,
): void {
  // By default Node ends its side as soon as the client ends its own, so the response to a request it has already
  // read can never be sent. With this (undocumented but long-standing) switch, the connection closes once the
  // responses in flight are done, as HTTP/1.1 allows and Distribution does.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;

  // The last response in flight on each connection, so an error answer waits for the good requests before it.
  // Forgotten once closed: an idle keep-alive connection must not keep its last request alive.
  const latest = new WeakMap<Duplex, ServerResponse>();
  const answered = new WeakSet<Duplex>();
  function forget(this: ServerResponse) {
    if (latest.get(this.req.socket) === this) latest.delete(this.req.socket);
  }
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    latest.set(req.socket, res);
    res.once("close", forget);
  });

  const reject = (socket: Duplex, err: RegistryError, method: string, cause: string) => {
    metrics.httpRequests.inc({ method, route: "none", status: String(err.status) });
    if (!limitHit(cause, socket))
      log.info({ method, status: err.status, cause, remote: remoteOf(socket) }, "request rejected");
    const pending = latest.get(socket);
    if (pending) pending.once("close", () => answer(socket, err));
    else answer(socket, err);
  };

  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // After a parse error the parser stays failed: more bytes from this client raise it again.
    if (answered.has(socket)) return;
    answered.add(socket);
    const code = err.code ?? "";
    // Not a request at all: the client reset or broke the connection (ECONNRESET, EPIPE…).
    if (!code.startsWith("HPE_") && !PARSE_ERRORS[code]) {
      log.debug({ code, remote: remoteOf(socket) }, "client connection error");
      socket.destroy();
      return;
    }
    const oci = PARSE_ERRORS[code] ?? "REQUEST_INVALID";
    const message = oci === "REQUEST_INVALID" ? `malformed HTTP request (${code})` : undefined;
    reject(socket, new RegistryError(oci, message), "", code);
  });

  // A forward-proxy request: Node hands over the raw socket, and without this listener drops it without a word.
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    const err = new RegistryError("UNSUPPORTED", "CONNECT is not supported: this is a registry, not a proxy");
    reject(socket, err, "CONNECT", "CONNECT");
  });
}

function remoteOf(socket: Duplex): string | undefined {
  return (socket as Duplex & { remoteAddress?: string }).remoteAddress;
}

/** Writes the error as a whole HTTP response and closes the connection (see answerAndClose). */
function answer(socket: Duplex, err: RegistryError): void {
  if (!socket.writable) socket.destroy();
  else answerAndClose(socket, rawError(err.code, err.message));
}

/**
 * An HTTP/1.1 request must name its host (RFC 9112 §3.2). Node's own check (`requireHostHeader`, off in server.ts)
 * answers with an empty 400; here it is an OCI error, logged and counted like any request.
 */
export const requireHost: Middleware<RequestContext> = (ctx, next) => {
  const { req } = ctx;
  if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
    throw new RegistryError("REQUEST_INVALID", "an HTTP/1.1 request needs a Host header");
  }
  return next(ctx);
};
