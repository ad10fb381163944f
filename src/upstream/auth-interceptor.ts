import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import { first, headerRecord, type UpstreamDispatchOptions } from "./dispatch-options.js";
import { type Replay, ReplayHandler } from "./replay-handler.js";
import type { TokenAuth } from "./token-auth.js";

/**
 * Sends the registry's requests with the scope's token and, after a 401 that taught a (new) challenge, once
 * more with a fresh one. Requests to any other origin (the CDN a blob redirects to) pass untouched: credentials
 * go to the registry only.
 */
class AuthHandler extends ReplayHandler {
  private retried = false;
  /** The Authorization header the attempt on the wire carries. */
  private sent: string | undefined;

  constructor(
    dispatch: Dispatcher.Dispatch,
    handler: Dispatcher.DispatchHandler,
    private readonly opts: UpstreamDispatchOptions,
    private readonly scope: string,
    private readonly auth: TokenAuth,
  ) {
    super(dispatch, handler);
  }

  readonly authorize: Replay = async (signal) => {
    this.sent = await this.auth.authorization(this.scope, signal);
    const headers = headerRecord(this.opts.headers);
    if (this.sent) headers.authorization = this.sent;
    return { ...this.opts, headers };
  };

  protected replayAfter(status: number, headers: IncomingHttpHeaders): Replay | undefined {
    if (status !== 401 || this.retried) return undefined;
    this.retried = true;
    const worthRetrying = this.auth.unauthorized(first(headers["www-authenticate"]), this.scope, this.sent);
    return worthRetrying ? this.authorize : undefined;
  }

  protected replayAfterError(): undefined {
    return undefined;
  }
}

/** The auth interceptor for the registry at `origin`; a request names its token scope in `scope`. */
export function tokenAuth(origin: string, auth: TokenAuth): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts: UpstreamDispatchOptions, handler) => {
    const to = typeof opts.origin === "string" ? opts.origin : opts.origin?.origin;
    if (!opts.scope || to !== origin) return dispatch(opts, handler);
    const h = new AuthHandler(dispatch, handler, opts, opts.scope, auth);
    return h.start(h.authorize);
  };
}
