import type Database from "better-sqlite3";
import { addColumns, type Row } from "./sqlite-schema.js";
import { dayOffset, type UsageDay, type UserActivity, utcDay } from "./user-store.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS user_usage (
  user_id INTEGER NOT NULL, day TEXT NOT NULL, requests INTEGER NOT NULL, pulls INTEGER NOT NULL,
  bytes INTEGER NOT NULL, last_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, day));
`;

/** Columns added to `user_usage`: the day's last request (ms; 0 in rows written before it was kept). */
const COLUMNS: Record<string, string> = { last_at: "INTEGER NOT NULL DEFAULT 0" };

/** Daily usage rows older than this many days are dropped: the console shows 30 days at most. */
const DAYS_KEPT = 100;

type Usage = Omit<UsageDay, "day">;
type Pending = Usage & { lastAt: number };

function statements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    add: p(`INSERT INTO user_usage (user_id, day, requests, pulls, bytes, last_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET requests = requests + excluded.requests, pulls = pulls + excluded.pulls,
        bytes = bytes + excluded.bytes, last_at = max(last_at, excluded.last_at)`),
    usage: p(
      "SELECT day, requests, pulls, bytes FROM user_usage WHERE user_id = ? AND day >= ? ORDER BY day",
    ),
    prune: p("DELETE FROM user_usage WHERE day < ?"),
    active: p("SELECT DISTINCT user_id FROM user_usage WHERE day >= ?"),
    activity: p(`SELECT user_id, max(last_at) AS last_at,
        sum(CASE WHEN day = @day THEN requests ELSE 0 END) AS requests,
        sum(CASE WHEN day = @day THEN pulls ELSE 0 END) AS pulls,
        sum(CASE WHEN day = @day THEN bytes ELSE 0 END) AS bytes
      FROM user_usage GROUP BY user_id`),
  };
}

const add = (to: Usage, u: Usage) => {
  to.requests += u.requests;
  to.pulls += u.pulls;
  to.bytes += u.bytes;
};

/**
 * Per-user usage by UTC day (requests, pulls, bytes, the day's last request): counted in memory on the hot path
 * and written by `flush`; every read adds what is still buffered.
 */
export class SqliteUserUsage {
  private readonly stmt: ReturnType<typeof statements>;
  /** Usage not yet written, by user id and day (NUL-separated). */
  private readonly pendingUsage = new Map<string, Pending>();
  private prunedOn = "";

  constructor(db: Database.Database) {
    db.exec(SCHEMA);
    addColumns(db, "user_usage", COLUMNS);
    this.stmt = statements(db);
  }

  /** The buffered usage, as [user id, day, usage]. */
  private *buffered(): Generator<[number, string, Pending]> {
    for (const [k, p] of this.pendingUsage) {
      const [id, day] = k.split("\0") as [string, string];
      yield [Number(id), day, p];
    }
  }

  record(userId: number, at: number, u: Usage): void {
    const k = `${userId}\0${utcDay(at)}`;
    const p = this.pendingUsage.get(k);
    if (!p) this.pendingUsage.set(k, { ...u, lastAt: at });
    else {
      add(p, u);
      p.lastAt = Math.max(p.lastAt, at);
    }
  }

  /** The users with a request from `fromDay` on. */
  active(fromDay: string): Set<number> {
    const ids = new Set((this.stmt.active.all(fromDay) as Row[]).map((r) => r.user_id as number));
    for (const [id, day] of this.buffered()) if (day >= fromDay) ids.add(id);
    return ids;
  }

  activity(day: string): Map<number, UserActivity> {
    const byUser = new Map<number, UserActivity>();
    for (const r of this.stmt.activity.all({ day }) as Row[]) {
      const { requests, pulls, bytes } = r as Usage;
      byUser.set(r.user_id as number, {
        lastActive: (r.last_at as number) || undefined,
        today: { requests, pulls, bytes },
      });
    }
    for (const [id, pendingDay, p] of this.buffered()) {
      const a = byUser.get(id) ?? { lastActive: undefined, today: { requests: 0, pulls: 0, bytes: 0 } };
      a.lastActive = Math.max(a.lastActive ?? 0, p.lastAt);
      if (pendingDay === day) add(a.today, p);
      byUser.set(id, a);
    }
    return byUser;
  }

  usage(userId: number, fromDay: string): UsageDay[] {
    const byDay = new Map<string, UsageDay>();
    for (const r of this.stmt.usage.all(userId, fromDay) as UsageDay[]) byDay.set(r.day, { ...r });
    for (const [id, day, p] of this.buffered()) {
      if (id !== userId || day < fromDay) continue;
      const d = byDay.get(day) ?? { day, requests: 0, pulls: 0, bytes: 0 };
      add(d, p);
      byDay.set(day, d);
    }
    return [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day));
  }

  /** Writes the buffered usage, and drops rows past DAYS_KEPT once a day; inside the store's transaction. */
  flush(): void {
    for (const [id, day, u] of this.buffered()) {
      this.stmt.add.run(id, day, u.requests, u.pulls, u.bytes, u.lastAt);
    }
    this.pendingUsage.clear();
    const today = utcDay(Date.now());
    if (this.prunedOn !== today) {
      this.stmt.prune.run(dayOffset(today, -DAYS_KEPT));
      this.prunedOn = today;
    }
  }

  get pending(): boolean {
    return this.pendingUsage.size > 0;
  }
}
