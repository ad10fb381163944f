import type { IncomingHttpHeaders } from "node:http";
import { type Dispatcher, interceptors } from "undici";
import { UpstreamAnswerError } from "./bounded-read.js";
import { type Replay, ReplayHandler } from "./replay-handler.js";

/** A "replay" that fails the request with the upstream's fault instead of sending it again. */
function refuse(message: string): Replay {
  return async () => {
    throw new UpstreamAnswerError("redirects", message);
  };
}

/**
 * Makes redirects that never arrive the upstream's fault (502, and no retry): undici stops following after
 * `max` hops and hands up the last 3xx, and throws on a hop back to a URL already visited (a loop).
 */
class RedirectLimitHandler extends ReplayHandler {
  constructor(
    dispatch: Dispatcher.Dispatch,
    handler: Dispatcher.DispatchHandler,
    private readonly max: number,
  ) {
    super(dispatch, handler);
  }

  protected replayAfter(status: number, headers: IncomingHttpHeaders): Replay | undefined {
    if (status < 300 || status >= 400 || !headers.location) return undefined;
    return refuse(`upstream redirected more than ${this.max} times`);
  }

  protected replayAfterError(err: Error): Replay | undefined {
    // The redirect handler's only invalid-argument errors come from a Location it can't or won't follow.
    if ((err as { code?: string }).code !== "UND_ERR_INVALID_ARG") return undefined;
    // undici's message goes on to guess at a cause that isn't ours: its first sentence says it all.
    return refuse(`upstream redirect not followed: ${err.message.split(".")[0]}`);
  }
}

/** undici's redirect interceptor, at most `max` hops, its dead ends refused as above. */
export function redirects(max: number): Dispatcher.DispatcherComposeInterceptor {
  const follow = interceptors.redirect({ maxRedirections: max });
  return (dispatch) => {
    const following = follow(dispatch);
    return (opts, handler) => new RedirectLimitHandler(following, handler, max).start(opts);
  };
}
