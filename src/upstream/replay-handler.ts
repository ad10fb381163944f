import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";

/** Work to do before the request is sent again (a token fetch, a backoff); resolves with the options to send. */
export type Replay = (signal: AbortSignal) => Promise<Dispatcher.DispatchOptions>;

/**
 * The one controller the handler above sees for the whole request, whichever attempt is on the wire. An abort
 * must reach us between attempts too (during a backoff or a token fetch), when no connection is there to abort.
 */
class StableController implements Dispatcher.DispatchController {
  private target: Dispatcher.DispatchController | undefined;
  private abortedWith: Error | null = null;
  private isPaused = false;

  constructor(private readonly onAbort: (reason: Error) => void) {}

  attach(target: Dispatcher.DispatchController): void {
    this.target = target;
    if (this.abortedWith) target.abort(this.abortedWith);
    else if (this.isPaused) target.pause();
  }

  get aborted(): boolean {
    return this.abortedWith !== null;
  }

  get reason(): Error | null {
    return this.abortedWith;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  abort(reason: Error): void {
    if (this.abortedWith) return;
    this.abortedWith = reason;
    this.onAbort(reason);
  }

  /** Aborts the attempt on the wire, if any. */
  abortTarget(reason: Error): void {
    this.target?.abort(reason);
  }

  pause(): void {
    this.isPaused = true;
    this.target?.pause();
  }

  resume(): void {
    this.isPaused = false;
    this.target?.resume();
  }
}

/**
 * A handler that may answer a response or an error by sending the request again, as long as nothing of the
 * response has gone up yet: the auth and retry interceptors differ only in when they replay and what they do
 * before. A replayed answer is swallowed whole (its body drained, which keeps the connection reusable).
 */
export abstract class ReplayHandler implements Dispatcher.DispatchHandler {
  private readonly controller = new StableController((reason) => this.aborted(reason));
  /** The response went up: from now on everything passes through. */
  private forwarded = false;
  private settled = false;
  /** Set while the answer on the wire is being swallowed, to replay once it has ended. */
  private pending: Replay | undefined;
  private waiting: AbortController | undefined;

  constructor(
    private readonly dispatch: Dispatcher.Dispatch,
    private readonly handler: Dispatcher.DispatchHandler,
  ) {}

  /** How to replay after this answer, or undefined to hand it up. */
  protected abstract replayAfter(status: number, headers: IncomingHttpHeaders): Replay | undefined;

  /** How to replay after an error before any answer went up, or undefined to hand the error up. */
  protected abstract replayAfterError(err: Error): Replay | undefined;

  /**
   * Hands the handler above its controller at once, so an abort reaches us even before the first attempt is
   * sent, then sends that attempt (or prepares it first).
   */
  start(attempt: Dispatcher.DispatchOptions | Replay): boolean {
    this.handler.onRequestStart?.(this.controller, {});
    if (typeof attempt === "function") this.replay(attempt);
    else this.send(attempt);
    return true;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller.attach(controller);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    message?: string,
  ): void {
    if (!this.forwarded && !this.controller.aborted) {
      this.pending = this.replayAfter(status, headers);
      if (this.pending) return;
    }
    this.forwarded = true;
    this.handler.onResponseStart?.(this.controller, status, headers, message);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.pending) this.handler.onResponseData?.(this.controller, chunk);
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      this.replay(pending);
    } else {
      this.settled = true;
      this.handler.onResponseEnd?.(this.controller, trailers);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.pending = undefined;
    const again = this.forwarded || this.controller.aborted ? undefined : this.replayAfterError(err);
    if (again) this.replay(again);
    else this.fail(this.controller.reason ?? err);
  }

  private replay(prepare: Replay): void {
    const waiting = new AbortController();
    // Aborted before the first attempt (an already aborted signal): don't even fetch a token.
    if (this.controller.reason) waiting.abort(this.controller.reason);
    this.waiting = waiting;
    prepare(waiting.signal).then(
      (opts) => {
        this.waiting = undefined;
        this.send(opts);
      },
      (err: Error) => {
        this.waiting = undefined;
        this.fail(this.controller.reason ?? err);
      },
    );
  }

  private send(opts: Dispatcher.DispatchOptions): void {
    try {
      // An abort during the wait for this attempt: don't send it.
      const aborted = this.controller.reason;
      if (aborted) throw aborted;
      this.dispatch(opts, this);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private aborted(reason: Error): void {
    if (this.waiting) this.waiting.abort(reason);
    else this.controller.abortTarget(reason);
  }

  private fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.handler.onResponseError?.(this.controller, err);
  }
}

/** Never replays: used to hold a request until a check passes, or to fail it without sending anything. */
class GateHandler extends ReplayHandler {
  protected replayAfter(): undefined {
    return undefined;
  }

  protected replayAfterError(): undefined {
    return undefined;
  }
}

/** Dispatches `opts` once `check` resolves; when it rejects, fails the request with its error, unsent. */
export function gate(
  dispatch: Dispatcher.Dispatch,
  opts: Dispatcher.DispatchOptions,
  handler: Dispatcher.DispatchHandler,
  check: () => Promise<void>,
): boolean {
  return new GateHandler(dispatch, handler).start(async () => {
    await check();
    return opts;
  });
}
