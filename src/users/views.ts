import type { IncomingMessage } from "node:http";
import { RegistryError } from "../errors/oci-errors.js";
import {
  dayOffset,
  type PullTokenRecord,
  type UserActivity,
  type UserRecord,
  type UserStore,
  utcDay,
} from "../metadata/user-store.js";
import { mirrorOrigin, type PublicAddress, personalAddress } from "./origin.js";
import type { NewPullToken } from "./pull-tokens.js";
import type { QuotaGate } from "./quota.js";

/** What the API shows of users, tokens and usage: never a hash, and a secret only in the answer that made it. */

const iso = (at: number | undefined) => (at === undefined ? null : new Date(at).toISOString());

export function userView(user: UserRecord, quota: QuotaGate) {
  return {
    name: user.name,
    admin: user.admin,
    disabled: user.disabled,
    createdAt: iso(user.createdAt),
    /** The limits in force (0: none). */
    quota: quota.limits(user),
    /** The user's own limits; null follows auth.quota. */
    quotaOverride: user.quota,
  };
}

/** A user in the admins' list: also the last registry request and today's usage (UTC). */
export function listedUserView(user: UserRecord, quota: QuotaGate, activity: UserActivity | undefined) {
  return {
    ...userView(user, quota),
    lastActive: iso(activity?.lastActive),
    today: activity?.today ?? { requests: 0, pulls: 0, bytes: 0 },
  };
}

export function tokenView(t: PullTokenRecord) {
  return { id: t.id, name: t.name, hint: t.hint, createdAt: iso(t.createdAt), lastUsed: iso(t.lastUsed) };
}

/** A new token with its secret and personal address: shown this once. */
export function newTokenView(t: NewPullToken, req: IncomingMessage, pub: PublicAddress) {
  return { ...tokenView(t.token), secret: t.secret, personal: personalAddress(t.secret, req, pub) ?? null };
}

/** How a client reaches this mirror: its URL, the registry name for logins, and the personal-address domain. */
export function mirrorView(req: IncomingMessage, pub: PublicAddress) {
  const url = mirrorOrigin(req, pub);
  return { url, registry: new URL(url).host, domain: pub.domain ?? null };
}

/** A user's usage over the last `days` UTC days (today included), with today's quota left. */
export async function usageView(store: UserStore, quota: QuotaGate, user: UserRecord, days: number) {
  const today = utcDay(Date.now());
  const rows = await store.usage(user.id, dayOffset(today, 1 - days));
  const zero = { day: today, requests: 0, pulls: 0, bytes: 0 };
  const total = rows.reduce(
    (t, r) => ({ requests: t.requests + r.requests, pulls: t.pulls + r.pulls, bytes: t.bytes + r.bytes }),
    { requests: 0, pulls: 0, bytes: 0 },
  );
  const todays = rows.find((r) => r.day === today) ?? zero;
  const limits = quota.limits(user);
  return {
    user: user.name,
    days: rows,
    today: todays,
    total,
    quota: {
      ...limits,
      bytesLeftToday: limits.bytesPerDay > 0 ? Math.max(0, limits.bytesPerDay - todays.bytes) : null,
    },
  };
}

/** `?days=N`: 1 to 90, default 30. */
export function daysParam(raw: string | null): number {
  const n = raw === null ? 30 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 90) {
    throw new RegistryError("REQUEST_INVALID", `days=${String(raw).slice(0, 20)}: expected 1 to 90`);
  }
  return n;
}
