import { setTimeout as sleep } from "node:timers/promises";

export interface BackoffPolicy {
  /** Delay before the first retry. */
  baseMs: number;
  /** No delay grows past this. */
  maxMs: number;
  /** Randomise each delay down to half, so clients that failed together don't retry together. */
  jitter?: boolean;
}

/** The delay before retry number `attempt` (0-based): doubling from baseMs, capped at maxMs. */
export function backoffDelay(attempt: number, p: BackoffPolicy): number {
  const ms = Math.min(p.maxMs, p.baseMs * 2 ** attempt);
  return p.jitter ? ms * (0.5 + Math.random() / 2) : ms;
}

/** Waits before retry number `attempt`; rejects at once when `signal` aborts. Returns the delay. */
export async function backoff(attempt: number, p: BackoffPolicy, signal?: AbortSignal): Promise<number> {
  const ms = backoffDelay(attempt, p);
  await sleep(ms, undefined, { signal });
  return ms;
}
