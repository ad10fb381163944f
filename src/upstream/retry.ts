import type { Dispatcher } from "undici";
import { type BackoffPolicy, backoff } from "../async/backoff.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { UpstreamDispatchOptions } from "./dispatch-options.js";
import { type Replay, ReplayHandler } from "./replay-handler.js";

export interface RetryOptions {
  /** Retries after the first attempt. */
  retries: number;
  policy: BackoffPolicy;
  log: Logger;
}

export const RETRY_BACKOFF: BackoffPolicy = { baseMs: 100, maxMs: 1000, jitter: true };

const IDEMPOTENT = new Set(["GET", "HEAD"]);

/**
 * Sends an idempotent request again, with backoff, after a connection error or a 5xx, but only while nothing of
 * the response went up: once a byte has, a retry would hand the caller a second body. Resuming a body is the
 * blob fill's job (with a Range request and a digest check), not ours.
 */
class RetryHandler extends ReplayHandler {
  private attempt = 0;

  constructor(
    dispatch: Dispatcher.Dispatch,
    handler: Dispatcher.DispatchHandler,
    private readonly opts: UpstreamDispatchOptions,
    private readonly o: RetryOptions,
  ) {
    super(dispatch, handler);
  }

  protected replayAfter(status: number): Replay | undefined {
    return status >= 500 ? this.again(`status ${status}`) : undefined;
  }

  protected replayAfterError(err: Error): Replay | undefined {
    // A RegistryError is a verdict (the token server refused), not a broken connection.
    return err instanceof RegistryError ? undefined : this.again(err.message);
  }

  private again(why: string): Replay | undefined {
    if (this.attempt >= this.o.retries) return undefined;
    const attempt = this.attempt++;
    return async (signal) => {
      const ms = await backoff(attempt, this.o.policy, signal);
      this.o.log.warn(
        { kind: this.opts.kind, path: this.opts.path, attempt: attempt + 1, why, ms: Math.round(ms) },
        "upstream retry",
      );
      return this.opts;
    };
  }
}

export function retry(o: RetryOptions): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (opts: UpstreamDispatchOptions, handler) => {
    if (o.retries <= 0 || !IDEMPOTENT.has(opts.method)) return dispatch(opts, handler);
    return new RetryHandler(dispatch, handler, opts, o).start(opts);
  };
}
