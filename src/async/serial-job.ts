/**
 * A background job that never runs twice at once (eviction, retention): a call while it runs queues one more run,
 * which every further caller shares, so a burst of triggers costs at most one extra run. A timer (unref'd: it
 * never keeps the process alive) can call it periodically; `stop()` ends the timer and waits for the run.
 */
export class SerialJob<T> {
  private current: Promise<T> | undefined;
  private queued: Promise<T> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly work: () => Promise<T>,
    /** Told about a failed run that nobody awaited (a trigger or the timer). */
    private readonly onError: (err: Error) => void,
  ) {}

  /** Runs the job, after the current run if there is one; resolves with this run's result. */
  run(): Promise<T> {
    if (this.queued) return this.queued;
    if (!this.current) return this.start();
    this.queued = this.current
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  /** Runs it in the background. */
  trigger(): void {
    if (!this.stopped) this.run().catch(this.onError);
  }

  /** Triggers it every `ms`; 0 never. */
  every(ms: number): void {
    if (ms <= 0) return;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.trigger(), ms);
    this.timer.unref();
  }

  /** No more runs (a queued one is dropped); resolves once the one under way has settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.queued?.catch(() => {});
    await this.current?.catch(() => {});
  }

  private start(): Promise<T> {
    if (this.stopped) return Promise.reject(new Error("stopped"));
    const run = this.work().finally(() => {
      if (this.current === run) this.current = undefined;
    });
    this.current = run;
    return run;
  }
}
