import { LRUCache } from "lru-cache";

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by key: `perMinute` requests a minute, in bursts of up to `perMinute`. The keys (users,
 * addresses, account names) live in an LRU, so a flood of new keys can't grow memory without bound; a bucket
 * forgotten that way is full again, which only errs towards letting a request in.
 */
export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(maxKeys = 10_000) {
    this.buckets = new LRUCache({ max: maxKeys });
  }

  private refill(key: string, perMinute: number, now: number): Bucket {
    const b = this.buckets.get(key) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) * perMinute) / 60_000);
    b.at = now;
    this.buckets.set(key, b);
    return b;
  }

  /** Milliseconds until `key` may make a request (0: now), without taking one. */
  wait(key: string, perMinute: number, now = Date.now()): number {
    const b = this.refill(key, perMinute, now);
    return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) * 60_000) / perMinute);
  }

  /** Takes one request for `key`: 0 when it may go, else the milliseconds until it may (nothing is taken). */
  take(key: string, perMinute: number, now = Date.now()): number {
    const wait = this.wait(key, perMinute, now);
    if (wait === 0) (this.buckets.get(key) as Bucket).tokens -= 1;
    return wait;
  }
}
