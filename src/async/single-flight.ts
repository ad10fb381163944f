/**
 * One operation in flight per key: a caller that finds one under way joins it instead of starting another. The
 * key stays taken until the operation has settled, or, with `until`, until the value's own work is done (a blob
 * download outlives the promise that hands out its first bytes).
 */
export class SingleFlight<K, V> {
  private readonly flights = new Map<K, Promise<V>>();

  /** The value of the operation under way for `key`, starting `start` if there is none. */
  run(
    key: K,
    start: () => Promise<V>,
    until?: (value: V) => Promise<unknown>,
  ): { value: Promise<V>; joined: boolean } {
    const current = this.flights.get(key);
    if (current) return { value: current, joined: true };
    const value = start();
    this.flights.set(key, value);
    const release = () => {
      if (this.flights.get(key) === value) this.flights.delete(key);
    };
    value.then((v) => (until ? until(v).then(release, release) : release()), release);
    return { value, joined: false };
  }

  /** Shorthand for callers that don't care whether they joined. */
  do(key: K, start: () => Promise<V>): Promise<V> {
    return this.run(key, start).value;
  }

  get(key: K): Promise<V> | undefined {
    return this.flights.get(key);
  }

  get size(): number {
    return this.flights.size;
  }

  /** Settles once nothing is in flight, including operations started meanwhile. */
  async idle(): Promise<void> {
    while (this.flights.size > 0) await Promise.allSettled([...this.flights.values()]);
  }
}
