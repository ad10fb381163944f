import { RegistryError } from "../errors/oci-errors.js";

export interface BreakerOptions {
  /** Consecutive failures (no answer, timeout, 5xx after retries) that open the circuit. */
  failures: number;
  /** How long it stays open before one probe request is let through. */
  openForMs: number;
}

export type BreakerState = "closed" | "open" | "half-open";

/** A request's outcome as the breaker counts it; undefined: no verdict (aborted by the client). */
export type Verdict = "ok" | "failed" | undefined;

/**
 * Fails requests at once while an upstream is down instead of letting each wait for its timeout. After
 * `failures` consecutive failures it opens for `openForMs`; then one probe goes through (half-open): its success
 * closes the circuit, its failure opens it again.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;

  constructor(
    private readonly registry: string,
    private readonly o: BreakerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.openUntil === 0) return "closed";
    return this.now() < this.openUntil || this.probing ? "open" : "half-open";
  }

  /** Lets a request through (true: it is the probe) or throws UPSTREAM_UNAVAILABLE with a Retry-After. */
  admit(): boolean {
    if (this.openUntil === 0) return false;
    const left = this.openUntil - this.now();
    if (left <= 0 && !this.probing) {
      this.probing = true;
      return true;
    }
    throw new RegistryError(
      "UPSTREAM_UNAVAILABLE",
      `upstream ${this.registry} is down (circuit open)`,
      undefined,
      { "Retry-After": String(Math.max(1, Math.ceil(left / 1000))) },
    );
  }

  /** Records the outcome of a request that `admit` let through. */
  settle(probe: boolean, verdict: Verdict): void {
    if (probe) this.probing = false;
    if (verdict === "ok") {
      this.failures = 0;
      this.openUntil = 0;
    } else if (verdict === "failed") {
      // Late failures of requests sent before the circuit opened don't extend it; a failed probe reopens it.
      if (this.openUntil !== 0 && !probe) return;
      if (probe || ++this.failures >= this.o.failures) {
        this.failures = 0;
        this.openUntil = this.now() + this.o.openForMs;
      }
    }
  }
}
