import type { IncomingHttpHeaders } from "node:http";
import type { Metrics } from "../metrics/metrics.js";
import { first } from "./dispatch-options.js";
import type { Credentials } from "./token-auth.js";

/** How long a credential rests after a 429 that named neither a Retry-After nor a window. */
export const DEFAULT_COOLDOWN_MS = 60_000;

/** One account of the pool, or the anonymous last resort (no credentials). */
export interface Member {
  /** Keys its tokens; never derived from the password. */
  readonly id: number;
  /** What metrics and logs show: the username, or "anonymous". */
  readonly label: string;
  readonly credentials: Credentials | undefined;
  /** Last `ratelimit-remaining` upstream reported for it, unknown until then. */
  remaining: number | undefined;
  coolUntil: number;
}

/** `100;w=21600` → its value and window in seconds. */
export function parseRateLimit(v: string | undefined): { value?: number; windowS?: number } {
  if (!v) return {};
  const value = Number.parseInt(v, 10);
  const w = /;\s*w=(\d+)/.exec(v)?.[1];
  return {
    ...(Number.isFinite(value) && { value }),
    ...(w !== undefined && { windowS: Number(w) }),
  };
}

/** Retry-After in seconds or as an HTTP date → milliseconds from now. */
function retryAfterMs(v: string | undefined, now: number): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The accounts of one upstream. Each request takes the usable account with the most quota left; accounts whose
 * quota is still unknown come first (to learn it), and ties rotate. An account that got a 429 rests until its
 * window resets; anonymous is used only when every account rests.
 */
export class CredentialPool {
  private readonly members: Member[];
  readonly anonymous: Member;
  private next = 0;

  constructor(
    credentials: Credentials[],
    private readonly registry: string,
    private readonly metrics: Metrics,
    private readonly now: () => number = Date.now,
  ) {
    const member = (id: number, c: Credentials | undefined): Member => ({
      id,
      label: c?.username ?? "anonymous",
      credentials: c,
      remaining: undefined,
      coolUntil: 0,
    });
    this.members = credentials.map((c, i) => member(i + 1, c));
    this.anonymous = member(0, undefined);
  }

  /** The member for a request that has already tried `tried`, or undefined when none is left. */
  pick(tried: ReadonlySet<Member> = new Set()): Member | undefined {
    const now = this.now();
    const n = this.members.length;
    let best: Member | undefined;
    for (let k = 0; k < n; k++) {
      const m = this.members[(this.next + k) % n] as Member;
      if (tried.has(m) || m.coolUntil > now) continue;
      if (!best || (m.remaining ?? Number.POSITIVE_INFINITY) > (best.remaining ?? Number.POSITIVE_INFINITY)) {
        best = m;
      }
    }
    if (best) {
      this.next = (this.next + 1) % n;
      return best;
    }
    return tried.has(this.anonymous) ? undefined : this.anonymous;
  }

  /** Notes the quota an answer reports for the member that sent the request. */
  observe(m: Member, headers: IncomingHttpHeaders): void {
    const { value } = parseRateLimit(first(headers["ratelimit-remaining"]));
    if (value === undefined) return;
    m.remaining = value;
    this.metrics.credentialRemaining.set({ registry: this.registry, credential: m.label }, value);
  }

  /** After a 429: the member rests until Retry-After, else the end of its `ratelimit-limit` window. */
  cool(m: Member, headers: IncomingHttpHeaders): void {
    const now = this.now();
    const windowS = parseRateLimit(first(headers["ratelimit-limit"])).windowS;
    const ms =
      retryAfterMs(first(headers["retry-after"]), now) ??
      (windowS !== undefined ? windowS * 1000 : DEFAULT_COOLDOWN_MS);
    m.coolUntil = now + ms;
    m.remaining = 0;
    const labels = { registry: this.registry, credential: m.label };
    this.metrics.credentialLimited.inc(labels);
    this.metrics.credentialRemaining.set(labels, 0);
  }

  /** Whether `label`'s account is resting, for tests and the console. */
  cooling(label: string): boolean {
    const now = this.now();
    return [...this.members, this.anonymous].some((m) => m.label === label && m.coolUntil > now);
  }

  /** Every account rests, anonymous included: the upstream is "limited". */
  get limited(): boolean {
    const now = this.now();
    return this.anonymous.coolUntil > now && this.members.every((m) => m.coolUntil > now);
  }
}
