/** A user's quota overrides; null takes the configured default (auth.quota), 0 is no limit. */
export interface UserQuota {
  requestsPerMinute: number | null;
  bytesPerDay: number | null;
}

export interface UserRecord {
  id: number;
  name: string;
  admin: boolean;
  disabled: boolean;
  createdAt: number;
  quota: UserQuota;
}

/** A pull token's public part: the secret itself is only ever stored as a hash. */
export interface PullTokenRecord {
  id: number;
  userId: number;
  name: string;
  /** The secret's first characters, so a user can tell tokens apart. */
  hint: string;
  createdAt: number;
  /** Last use (ms since epoch), recorded in batches; undefined when never used. */
  lastUsed: number | undefined;
}

export interface InviteRecord {
  id: number;
  hint: string;
  createdAt: number;
  expiresAt: number;
  /** The user who signed up with it, once used. */
  usedBy: string | undefined;
}

/** YYYY-MM-DD of `at`, in UTC: usage and quotas are counted per UTC day. */
export const utcDay = (at: number): string => new Date(at).toISOString().slice(0, 10);

/** The day `days` after (or before, when negative) `day`. */
export const dayOffset = (day: string, days: number): string =>
  utcDay(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000);

/** One user's usage on one UTC day. */
export interface UsageDay {
  /** YYYY-MM-DD (UTC). */
  day: string;
  requests: number;
  /** Manifest GETs answered with success. */
  pulls: number;
  bytes: number;
}

/** A user's latest registry request and usage on one day, for the admins' list. */
export interface UserActivity {
  /** ms since the epoch; undefined when no request is on record (usage is kept 100 days). */
  lastActive: number | undefined;
  today: Omit<UsageDay, "day">;
}

export type NewUser = { name: string; passwordHash: string; admin: boolean };

/** Why an account was not created. */
export type CreateUserResult = { user: UserRecord } | { error: "name-taken" | "invite-invalid" };

export interface UserChanges {
  disabled?: boolean;
  passwordHash?: string;
  requestsPerMinute?: number | null;
  bytesPerDay?: number | null;
}

/**
 * Users mode's tables: accounts, pull tokens, sessions, invites and per-user daily usage. Every secret (token,
 * session, invite) arrives here already hashed: the store never sees one. Usage and token use are buffered and
 * written by `flush`, as access times are.
 */
export interface UserStore {
  /** Creates an account; with `invite` (its hash), consumes that unused, unexpired invite in the same step. */
  createUser(user: NewUser, invite?: { hash: string; now: number }): Promise<CreateUserResult>;
  userByName(name: string): Promise<(UserRecord & { passwordHash: string }) | undefined>;
  listUsers(): Promise<UserRecord[]>;
  /** False when there is no such user. */
  updateUser(id: number, changes: UserChanges): Promise<boolean>;

  addPullToken(userId: number, token: { hash: string; name: string; hint: string }): Promise<PullTokenRecord>;
  /** The token with this secret hash and its user. */
  pullTokenByHash(hash: string): Promise<{ token: PullTokenRecord; user: UserRecord } | undefined>;
  /** The token (still existing) a bearer token was issued for, and its user. */
  pullTokenById(id: number): Promise<{ token: PullTokenRecord; user: UserRecord } | undefined>;
  listPullTokens(userId: number): Promise<PullTokenRecord[]>;
  /** False when the user has no such token. */
  deletePullToken(userId: number, id: number): Promise<boolean>;
  /** Revokes all of a user's tokens; returns how many there were. */
  deletePullTokens(userId: number): Promise<number>;
  /** Buffers a token's use. */
  touchPullToken(id: number, at: number): void;

  createSession(hash: string, userId: number, expiresAt: number): Promise<void>;
  /** The session's user, when the session exists and has not expired. */
  sessionUser(hash: string, now: number): Promise<UserRecord | undefined>;
  deleteSession(hash: string): Promise<void>;
  /** Ends a user's sessions, but `except` (a hash) if given. */
  deleteSessions(userId: number, except?: string): Promise<void>;
  deleteExpiredSessions(now: number): Promise<void>;

  createInvite(invite: { hash: string; hint: string; expiresAt: number }): Promise<InviteRecord>;
  listInvites(): Promise<InviteRecord[]>;
  deleteInvite(id: number): Promise<boolean>;

  /** Buffers the usage of one request made at `at` (ms), counted on its UTC day. */
  recordUsage(userId: number, at: number, usage: Omit<UsageDay, "day">): void;
  /** Accounts (disabled ones included), and users with any request from `fromDay` on (buffered included). */
  userCounts(fromDay: string): Promise<{ registered: number; active: number }>;
  /** Each user with usage on record: the last request, and the usage on `day` (buffered included). */
  activity(day: string): Promise<Map<number, UserActivity>>;
  /** A user's usage from `fromDay` on (buffered usage included), oldest first. */
  usage(userId: number, fromDay: string): Promise<UsageDay[]>;
}
