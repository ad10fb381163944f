import type Database from "better-sqlite3";
import type { Row } from "./sqlite-schema.js";
import { SqliteUserUsage } from "./sqlite-user-usage.js";
import type {
  CreateUserResult,
  InviteRecord,
  NewUser,
  PullTokenRecord,
  UsageDay,
  UserActivity,
  UserChanges,
  UserRecord,
  UserStore,
} from "./user-store.js";

/** AUTOINCREMENT: a bearer token names its pull token by id, so an id must never come back for another token. */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, admin INTEGER NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, quota_rpm INTEGER, quota_bytes_day INTEGER);
CREATE TABLE IF NOT EXISTS pull_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  hint TEXT NOT NULL, created_at INTEGER NOT NULL, last_used INTEGER);
CREATE INDEX IF NOT EXISTS pull_tokens_by_user ON pull_tokens (user_id);
CREATE TABLE IF NOT EXISTS sessions (
  hash TEXT PRIMARY KEY, user_id INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS invites (
  id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, hint TEXT NOT NULL, created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, used_by INTEGER);
`;

const USER = "u.id, u.name, u.admin, u.disabled, u.created_at, u.quota_rpm, u.quota_bytes_day";
const TOKEN = "t.id AS t_id, t.user_id, t.name AS t_name, t.hint, t.created_at AS t_created, t.last_used";

function statements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insertUser: p("INSERT INTO users (name, password_hash, admin, created_at) VALUES (?, ?, ?, ?)"),
    userByName: p(`SELECT ${USER}, u.password_hash FROM users u WHERE u.name = ?`),
    userById: p(`SELECT ${USER} FROM users u WHERE u.id = ?`),
    listUsers: p(`SELECT ${USER} FROM users u ORDER BY u.name`),
    useInvite: p("UPDATE invites SET used_by = ? WHERE hash = ? AND used_by IS NULL AND expires_at > ?"),
    validInvite: p("SELECT 1 FROM invites WHERE hash = ? AND used_by IS NULL AND expires_at > ?"),
    insertToken: p("INSERT INTO pull_tokens (user_id, hash, name, hint, created_at) VALUES (?, ?, ?, ?, ?)"),
    tokenByHash: p(
      `SELECT ${TOKEN}, ${USER} FROM pull_tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?`,
    ),
    tokenById: p(
      `SELECT ${TOKEN}, ${USER} FROM pull_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?`,
    ),
    tokensOf: p(`SELECT ${TOKEN} FROM pull_tokens t WHERE t.user_id = ? ORDER BY t.id`),
    deleteToken: p("DELETE FROM pull_tokens WHERE user_id = ? AND id = ?"),
    deleteTokens: p("DELETE FROM pull_tokens WHERE user_id = ?"),
    touchToken: p("UPDATE pull_tokens SET last_used = max(coalesce(last_used, 0), ?) WHERE id = ?"),
    insertSession: p("INSERT INTO sessions (hash, user_id, expires_at) VALUES (?, ?, ?)"),
    sessionUser: p(`SELECT ${USER} FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.hash = ? AND s.expires_at > ?`),
    deleteSession: p("DELETE FROM sessions WHERE hash = ?"),
    deleteSessions: p("DELETE FROM sessions WHERE user_id = ? AND hash != ?"),
    deleteExpired: p("DELETE FROM sessions WHERE expires_at <= ?"),
    insertInvite: p("INSERT INTO invites (hash, hint, created_at, expires_at) VALUES (?, ?, ?, ?)"),
    listInvites: p(`SELECT i.id, i.hint, i.created_at, i.expires_at, u.name AS used_by
      FROM invites i LEFT JOIN users u ON u.id = i.used_by ORDER BY i.id`),
    deleteInvite: p("DELETE FROM invites WHERE id = ?"),
    countUsers: p("SELECT count(*) AS n FROM users"),
  };
}

function userRecord(r: Row): UserRecord {
  return {
    id: r.id as number,
    name: r.name as string,
    admin: r.admin === 1,
    disabled: r.disabled === 1,
    createdAt: r.created_at as number,
    quota: {
      requestsPerMinute: (r.quota_rpm as number | null) ?? null,
      bytesPerDay: (r.quota_bytes_day as number | null) ?? null,
    },
  };
}

function tokenRecord(r: Row): PullTokenRecord {
  return {
    id: r.t_id as number,
    userId: r.user_id as number,
    name: r.t_name as string,
    hint: r.hint as string,
    createdAt: r.t_created as number,
    lastUsed: (r.last_used as number | null) ?? undefined,
  };
}

/** The users tables in the metadata database (see UserStore). */
export class SqliteUsers implements UserStore {
  private readonly stmt: ReturnType<typeof statements>;
  private readonly usageTable: SqliteUserUsage;
  private readonly pendingTouches = new Map<number, number>();

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.stmt = statements(db);
    this.usageTable = new SqliteUserUsage(db);
  }

  async createUser(u: NewUser, invite?: { hash: string; now: number }): Promise<CreateUserResult> {
    return this.db.transaction((): CreateUserResult => {
      if (invite && !this.stmt.validInvite.get(invite.hash, invite.now)) return { error: "invite-invalid" };
      if (this.stmt.userByName.get(u.name)) return { error: "name-taken" };
      const id = Number(
        this.stmt.insertUser.run(u.name, u.passwordHash, u.admin ? 1 : 0, Date.now()).lastInsertRowid,
      );
      if (invite) this.stmt.useInvite.run(id, invite.hash, invite.now);
      return { user: userRecord(this.stmt.userById.get(id) as Row) };
    })();
  }

  async userByName(name: string): Promise<(UserRecord & { passwordHash: string }) | undefined> {
    const r = this.stmt.userByName.get(name) as Row | undefined;
    return r && { ...userRecord(r), passwordHash: r.password_hash as string };
  }

  async listUsers(): Promise<UserRecord[]> {
    return (this.stmt.listUsers.all() as Row[]).map(userRecord);
  }

  async updateUser(id: number, c: UserChanges): Promise<boolean> {
    const columns: [string, unknown][] = [];
    if (c.disabled !== undefined) columns.push(["disabled", c.disabled ? 1 : 0]);
    if (c.passwordHash !== undefined) columns.push(["password_hash", c.passwordHash]);
    if (c.requestsPerMinute !== undefined) columns.push(["quota_rpm", c.requestsPerMinute]);
    if (c.bytesPerDay !== undefined) columns.push(["quota_bytes_day", c.bytesPerDay]);
    if (columns.length === 0) return this.stmt.userById.get(id) !== undefined;
    const set = columns.map(([name]) => `${name} = ?`).join(", ");
    const result = this.db
      .prepare(`UPDATE users SET ${set} WHERE id = ?`)
      .run(...columns.map((c) => c[1]), id);
    return result.changes > 0;
  }

  async addPullToken(
    userId: number,
    t: { hash: string; name: string; hint: string },
  ): Promise<PullTokenRecord> {
    const createdAt = Date.now();
    const id = Number(this.stmt.insertToken.run(userId, t.hash, t.name, t.hint, createdAt).lastInsertRowid);
    return { id, userId, name: t.name, hint: t.hint, createdAt, lastUsed: undefined };
  }

  async pullTokenByHash(hash: string): Promise<{ token: PullTokenRecord; user: UserRecord } | undefined> {
    const r = this.stmt.tokenByHash.get(hash) as Row | undefined;
    return r && { token: tokenRecord(r), user: userRecord(r) };
  }

  async pullTokenById(id: number): Promise<{ token: PullTokenRecord; user: UserRecord } | undefined> {
    const r = this.stmt.tokenById.get(id) as Row | undefined;
    return r && { token: tokenRecord(r), user: userRecord(r) };
  }

  async listPullTokens(userId: number): Promise<PullTokenRecord[]> {
    return (this.stmt.tokensOf.all(userId) as Row[]).map((r) => {
      const t = tokenRecord(r);
      const pending = this.pendingTouches.get(t.id);
      return pending ? { ...t, lastUsed: Math.max(t.lastUsed ?? 0, pending) } : t;
    });
  }

  async deletePullToken(userId: number, id: number): Promise<boolean> {
    return this.stmt.deleteToken.run(userId, id).changes > 0;
  }

  async deletePullTokens(userId: number): Promise<number> {
    return this.stmt.deleteTokens.run(userId).changes;
  }

  touchPullToken(id: number, at: number): void {
    this.pendingTouches.set(id, Math.max(this.pendingTouches.get(id) ?? 0, at));
  }

  async createSession(hash: string, userId: number, expiresAt: number): Promise<void> {
    this.stmt.insertSession.run(hash, userId, expiresAt);
  }

  async sessionUser(hash: string, now: number): Promise<UserRecord | undefined> {
    const r = this.stmt.sessionUser.get(hash, now) as Row | undefined;
    return r && userRecord(r);
  }

  async deleteSession(hash: string): Promise<void> {
    this.stmt.deleteSession.run(hash);
  }

  async deleteSessions(userId: number, except = ""): Promise<void> {
    this.stmt.deleteSessions.run(userId, except);
  }

  async deleteExpiredSessions(now: number): Promise<void> {
    this.stmt.deleteExpired.run(now);
  }

  async createInvite(i: { hash: string; hint: string; expiresAt: number }): Promise<InviteRecord> {
    const createdAt = Date.now();
    const id = Number(this.stmt.insertInvite.run(i.hash, i.hint, createdAt, i.expiresAt).lastInsertRowid);
    return { id, hint: i.hint, createdAt, expiresAt: i.expiresAt, usedBy: undefined };
  }

  async listInvites(): Promise<InviteRecord[]> {
    return (this.stmt.listInvites.all() as Row[]).map((r) => ({
      id: r.id as number,
      hint: r.hint as string,
      createdAt: r.created_at as number,
      expiresAt: r.expires_at as number,
      usedBy: (r.used_by as string | null) ?? undefined,
    }));
  }

  async deleteInvite(id: number): Promise<boolean> {
    return this.stmt.deleteInvite.run(id).changes > 0;
  }

  recordUsage(userId: number, at: number, u: Omit<UsageDay, "day">): void {
    this.usageTable.record(userId, at, u);
  }

  async userCounts(fromDay: string): Promise<{ registered: number; active: number }> {
    const registered = (this.stmt.countUsers.get() as Row).n as number;
    return { registered, active: this.usageTable.active(fromDay).size };
  }

  async activity(day: string): Promise<Map<number, UserActivity>> {
    return this.usageTable.activity(day);
  }

  async usage(userId: number, fromDay: string): Promise<UsageDay[]> {
    return this.usageTable.usage(userId, fromDay);
  }

  /** Writes the buffered usage and token uses; called by the store's flush, inside its transaction. */
  flush(): void {
    this.usageTable.flush();
    for (const [id, at] of this.pendingTouches) this.stmt.touchToken.run(at, id);
    this.pendingTouches.clear();
  }

  get pending(): boolean {
    return this.usageTable.pending || this.pendingTouches.size > 0;
  }
}
