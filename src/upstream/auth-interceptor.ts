import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";
import { RegistryError } from "../errors/oci-errors.js";
import type { CredentialPool, Member } from "./credential-pool.js";
import { first, headerRecord, type UpstreamDispatchOptions } from "./dispatch-options.js";
import { type Replay, ReplayHandler } from "./replay-handler.js";
import type { TokenAuth } from "./token-auth.js";

/**
 * Sends the registry's requests as one account of the pool with that account's token for the scope. After a
 * 401 that taught a (new) challenge it tries once more with a fresh token; after a 429 the account rests and
 * the request goes again as another one (a 429 comes before any body, so nothing went up yet), anonymous last.
 * Requests to any other origin (the CDN a blob redirects to) pass untouched: credentials go to the registry only.
 */
class AuthHandler extends ReplayHandler {
  private member: Member | undefined;
  private readonly tried = new Set<Member>();
  private retried = false;
  /** The Authorization header the attempt on the wire carries. */
  private sent: string | undefined;

  constructor(
    dispatch: Dispatcher.Dispatch,
    handler: Dispatcher.DispatchHandler,
    private readonly opts: UpstreamDispatchOptions,
    private readonly scope: string,
    private readonly auth: TokenAuth,
    private readonly pool: CredentialPool,
  ) {
    super(dispatch, handler);
  }

  /** Switches to the next account; false when every one has been tried. */
  switchMember(): boolean {
    this.member = this.pool.pick(this.tried);
    if (!this.member) return false;
    this.tried.add(this.member);
    this.retried = false;
    return true;
  }

  readonly authorize: Replay = async (signal) => {
    const member = this.member ?? this.pool.anonymous;
    try {
      this.sent = await this.auth.authorization(member, this.scope, signal);
    } catch (err) {
      // The token server's own 429 rests the account as the registry's would.
      if (!(err instanceof RegistryError && err.code === "TOOMANYREQUESTS")) throw err;
      this.pool.cool(member, { "retry-after": err.headers["Retry-After"] });
      if (!this.switchMember()) throw err;
      return this.authorize(signal);
    }
    const headers = headerRecord(this.opts.headers);
    if (this.sent) headers.authorization = this.sent;
    return { ...this.opts, headers };
  };

  protected replayAfter(status: number, headers: IncomingHttpHeaders): Replay | undefined {
    const member = this.member ?? this.pool.anonymous;
    this.pool.observe(member, headers);
    if (status === 429) {
      this.pool.cool(member, headers);
      return this.switchMember() ? this.authorize : undefined;
    }
    if (status !== 401 || this.retried) return undefined;
    this.retried = true;
    const worthRetrying = this.auth.unauthorized(
      first(headers["www-authenticate"]),
      member,
      this.scope,
      this.sent,
    );
    return worthRetrying ? this.authorize : undefined;
  }

  protected replayAfterError(): undefined {
    return undefined;
  }
}

/** The auth interceptor for the registry at `origin`; a request names its token scope in `scope`. */
export function tokenAuth(
  origin: string,
  auth: TokenAuth,
  pool: CredentialPool,
): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts: UpstreamDispatchOptions, handler) => {
    const to = typeof opts.origin === "string" ? opts.origin : opts.origin?.origin;
    if (!opts.scope || to !== origin) return dispatch(opts, handler);
    const h = new AuthHandler(dispatch, handler, opts, opts.scope, auth, pool);
    h.switchMember();
    return h.start(h.authorize);
  };
}
