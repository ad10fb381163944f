import { RegistryError } from "../errors/oci-errors.js";
import { type UserRecord, type UserStore, utcDay } from "../metadata/user-store.js";
import { RateLimiter } from "./rate-limiter.js";

export interface QuotaDefaults {
  requestsPerMinute: number;
  bytesPerDay: number;
}

const nextUtcMidnight = (at: number): number => (Math.floor(at / 86_400_000) + 1) * 86_400_000;

function tooMany(message: string, waitMs: number): RegistryError {
  const seconds = String(Math.max(1, Math.ceil(waitMs / 1000)));
  return new RegistryError("TOOMANYREQUESTS", message, undefined, { "Retry-After": seconds });
}

/**
 * Per-user quotas on registry requests: requests a minute (a token bucket) and bytes served a UTC day. The day's
 * bytes so far are read from the usage table once per user and day, then counted here, so a restart keeps them.
 * A request is refused once the day's bytes reached the quota; the request that crosses it is served whole.
 */
export class QuotaGate {
  private readonly rate = new RateLimiter();
  /** Bytes served today, by user id: loaded from the store at a user's first request of the day. */
  private readonly bytesToday = new Map<number, { day: string; bytes: number }>();

  constructor(
    private readonly defaults: QuotaDefaults,
    private readonly store: UserStore,
  ) {}

  limits(user: UserRecord): QuotaDefaults {
    return {
      requestsPerMinute: user.quota.requestsPerMinute ?? this.defaults.requestsPerMinute,
      bytesPerDay: user.quota.bytesPerDay ?? this.defaults.bytesPerDay,
    };
  }

  /** TOOMANYREQUESTS with Retry-After when the user is over a quota; else counts the request. */
  async admit(user: UserRecord, now = Date.now()): Promise<void> {
    const { requestsPerMinute, bytesPerDay } = this.limits(user);
    if (bytesPerDay > 0) {
      const used = await this.servedToday(user.id, now);
      if (used >= bytesPerDay) {
        throw tooMany(
          `${user.name} has used the daily quota of ${bytesPerDay} bytes`,
          nextUtcMidnight(now) - now,
        );
      }
    }
    if (requestsPerMinute > 0) {
      const wait = this.rate.take(String(user.id), requestsPerMinute, now);
      if (wait > 0) throw tooMany(`${user.name} is over ${requestsPerMinute} requests a minute`, wait);
    }
  }

  /** Records a finished request: the usage table, and today's bytes for the quota. */
  record(user: UserRecord, usage: { pull: boolean; bytes: number }, now = Date.now()): void {
    const day = utcDay(now);
    this.store.recordUsage(user.id, now, { requests: 1, pulls: usage.pull ? 1 : 0, bytes: usage.bytes });
    const today = this.bytesToday.get(user.id);
    if (today?.day === day) today.bytes += usage.bytes;
  }

  private async servedToday(userId: number, now: number): Promise<number> {
    const day = utcDay(now);
    const known = this.bytesToday.get(userId);
    if (known?.day === day) return known.bytes;
    const rows = await this.store.usage(userId, day);
    const bytes = rows.find((r) => r.day === day)?.bytes ?? 0;
    this.bytesToday.set(userId, { day, bytes });
    return bytes;
  }
}
