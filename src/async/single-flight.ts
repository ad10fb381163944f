/**
 * One operation in flight per key: a caller that finds one under way joins it instead of starting another. The
 * key stays taken until the operation has settled, or, with `until`, until the value's own work is done (a blob
 * download outlives the promise that hands out its first bytes).
 */
export class SingleFlight<K, V> {
  private readonly flights = new Map<K, { value: Promise<V>; over: Promise<void> }>();

  /** The value of the operation under way for `key`, starting `start` if there is none. */
  run(
    key: K,
    start: () => Promise<V>,
    until?: (value: V) => Promise<unknown>,
  ): { value: Promise<V>; joined: boolean } {
    const current = this.flights.get(key);
    if (current) return { value: current.value, joined: true };
    const value = start();
    const over = value
      .then((v) => until?.(v))
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        if (this.flights.get(key)?.value === value) this.flights.delete(key);
      });
    this.flights.set(key, { value, over });
    return { value, joined: false };
  }

  /** Shorthand for callers that don't care whether they joined. */
  do(key: K, start: () => Promise<V>): Promise<V> {
    return this.run(key, start).value;
  }

  get(key: K): Promise<V> | undefined {
    return this.flights.get(key)?.value;
  }

  get size(): number {
    return this.flights.size;
  }

  /** Settles once nothing is in flight, including operations started meanwhile. */
  async idle(): Promise<void> {
    while (this.flights.size > 0) await Promise.all([...this.flights.values()].map((f) => f.over));
  }
}
