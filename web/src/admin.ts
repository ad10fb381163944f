// The admins' part of the users API (`/api/users…`, `/api/invites`; README "Users mode"): the server refuses
// anyone but a signed-in admin (403), so hiding the page from others is only a courtesy.
import { type Account, call, type NewToken } from "./account.js";

export interface Limits {
  requestsPerMinute: number;
  bytesPerDay: number;
}

export interface ListedUser {
  name: string;
  admin: boolean;
  disabled: boolean;
  createdAt: string;
  /** The limits in force; 0 is none. */
  quota: Limits;
  /** The user's own limits; null follows auth.quota. */
  quotaOverride: { requestsPerMinute: number | null; bytesPerDay: number | null };
  /** The last registry request; null when none is on record. */
  lastActive: string | null;
  /** Usage on the current UTC day. */
  today: { requests: number; pulls: number; bytes: number };
}

export interface Invite {
  id: number;
  hint: string;
  createdAt: string;
  expiresAt: string;
  usedBy: string | null;
}

export interface NewInvite {
  id: number;
  code: string;
  expiresAt: string;
}

/**
 * An amount as typed: empty is null (a quota then follows the default), digits are a number; anything else goes
 * as typed ("10GiB", "7d"), and the server either takes it or names what is wrong.
 */
export function amountInput(text: string): number | string | null {
  const t = text.trim();
  if (t === "") return null;
  return /^\d+$/.test(t) ? Number(t) : t;
}

export class UserAdmin {
  constructor(private readonly account: Account) {}

  private send<T>(method: "POST" | "DELETE", path: string, body: unknown): Promise<T> {
    return call<T>(method, path, body, this.account.me?.csrfToken);
  }

  async users(): Promise<ListedUser[]> {
    return (await call<{ users: ListedUser[] }>("GET", "api/users")).users;
  }

  setDisabled(name: string, disabled: boolean): Promise<unknown> {
    return this.send("POST", disabled ? "api/users/disable" : "api/users/enable", { name });
  }

  setQuota(name: string, requestsPerMinute: number | string | null, bytesPerDay: number | string | null) {
    return this.send("POST", "api/users/quota", { name, requestsPerMinute, bytesPerDay });
  }

  /** Revokes every pull token of the user and makes one: its secret is in this answer only. */
  async resetToken(name: string): Promise<NewToken> {
    return (await this.send<{ token: NewToken }>("POST", "api/users/reset-token", { name })).token;
  }

  async invites(): Promise<Invite[]> {
    return (await call<{ invites: Invite[] }>("GET", "api/invites")).invites;
  }

  /** A single-use invite code, valid for `expires` ("7d"): shown this once. */
  async createInvite(expires: string): Promise<NewInvite> {
    const body = { expires: amountInput(expires) ?? undefined };
    return (await this.send<{ invite: NewInvite }>("POST", "api/invites", body)).invite;
  }

  deleteInvite(id: number): Promise<unknown> {
    return this.send("DELETE", "api/invites", { id });
  }
}
