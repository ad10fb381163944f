import type { AuthConfig } from "../config/auth-schema.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { UserChanges, UserRecord, UserStore } from "../metadata/user-store.js";
import { checkPassword, dummyHash, hashPassword, needsRehash, verifyPassword } from "./passwords.js";
import type { NewPullToken, PullTokens } from "./pull-tokens.js";
import { RateLimiter } from "./rate-limiter.js";
import { randomBase32, secretHash } from "./secrets.js";

/** Lowercase, 1 to 39 characters, letters and digits with `.`, `_` or `-` inside: also fine as a Basic user. */
const NAME = /^[a-z0-9](?:[a-z0-9._-]{0,37}[a-z0-9])?$/;

export function checkName(name: unknown): string {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new RegistryError(
      "REQUEST_INVALID",
      `invalid user name ${JSON.stringify(String(name).slice(0, 50))}: 1 to 39 lowercase letters and digits, with . _ - inside`,
    );
  }
  return name;
}

function tooMany(what: string, waitMs: number): RegistryError {
  return new RegistryError("TOOMANYREQUESTS", `too many ${what}; try again later`, undefined, {
    "Retry-After": String(Math.ceil(waitMs / 1000)),
  });
}

/** A new account, with the password when one was generated for it and its first pull token. */
export interface NewAccount {
  user: UserRecord;
  password?: string;
  token: NewPullToken;
}

/** Accounts: sign-up under the configured policy, sign-in with rate limits, and the admin's changes. */
export class Accounts {
  private readonly attempts = new RateLimiter();

  constructor(
    private readonly store: UserStore,
    private readonly tokens: PullTokens,
    private readonly config: AuthConfig,
  ) {}

  /** Counts a sign-in or sign-up from `address` (each costs a scrypt): TOOMANYREQUESTS past the limit. */
  throttle(address: string): void {
    const wait = this.attempts.take(`address:${address}`, this.config.login.perAddress);
    if (wait > 0) throw tooMany("sign-in attempts from this address", wait);
  }

  /** Sign-up as `auth.signup` allows: open, with an unused invite code, or not at all. */
  async signUp(body: Record<string, unknown>): Promise<NewAccount> {
    const policy = this.config.signup;
    if (policy === "closed") throw new RegistryError("DENIED", "sign-up is closed on this mirror");
    const invite = body.invite;
    if (policy === "invite" && (typeof invite !== "string" || invite === "")) {
      throw new RegistryError("DENIED", "sign-up needs an invite code on this mirror");
    }
    const code = policy === "invite" ? (invite as string) : undefined;
    return this.create(checkName(body.name), checkPassword(body.password), false, code);
  }

  /** An account made by an admin; without a password, one is generated (and returned once). */
  async add(name: unknown, password: unknown, admin: boolean): Promise<NewAccount> {
    const generated = password === undefined ? randomBase32(15) : undefined;
    const account = await this.create(checkName(name), checkPassword(password ?? generated), admin);
    return generated ? { ...account, password: generated } : account;
  }

  private async create(name: string, password: string, admin: boolean, invite?: string): Promise<NewAccount> {
    const passwordHash = await hashPassword(password);
    const invited = invite === undefined ? undefined : { hash: secretHash(invite), now: Date.now() };
    const made = await this.store.createUser({ name, passwordHash, admin }, invited);
    if ("error" in made) {
      throw made.error === "name-taken"
        ? new RegistryError("REQUEST_INVALID", `the name ${name} is taken`)
        : new RegistryError("DENIED", "the invite code is unknown, used or expired");
    }
    return { user: made.user, token: await this.tokens.create(made.user.id) };
  }

  /** The user if name and password match; UNAUTHORIZED (never saying which was wrong) or TOOMANYREQUESTS. */
  async signIn(name: unknown, password: unknown): Promise<UserRecord> {
    if (typeof name !== "string" || typeof password !== "string") {
      throw new RegistryError("REQUEST_INVALID", 'expected "name" and "password"');
    }
    const key = `account:${name.toLowerCase().slice(0, 64)}`;
    const wait = this.attempts.wait(key, this.config.login.perAccount);
    if (wait > 0) throw tooMany("failed sign-ins for this account", wait);
    const found = await this.store.userByName(name.toLowerCase());
    // An unknown name costs the same scrypt as a wrong password, so timing tells nothing.
    const ok = await verifyPassword(password, found?.passwordHash ?? (await dummyHash()));
    if (!found || !ok) {
      this.attempts.take(key, this.config.login.perAccount);
      throw new RegistryError("UNAUTHORIZED", "wrong user name or password");
    }
    if (found.disabled) throw new RegistryError("DENIED", `the account ${found.name} is disabled`);
    if (needsRehash(found.passwordHash)) {
      await this.store.updateUser(found.id, { passwordHash: await hashPassword(password) });
    }
    const { passwordHash: _, ...user } = found;
    return user;
  }

  async changePassword(user: UserRecord, current: unknown, next: unknown): Promise<void> {
    const found = await this.store.userByName(user.name);
    if (!found || typeof current !== "string" || !(await verifyPassword(current, found.passwordHash))) {
      throw new RegistryError("DENIED", "the current password is wrong");
    }
    await this.store.updateUser(user.id, { passwordHash: await hashPassword(checkPassword(next)) });
  }

  /** NOT_FOUND unless the user exists. */
  async user(name: unknown): Promise<UserRecord> {
    const found = typeof name === "string" ? await this.store.userByName(name) : undefined;
    if (!found) throw new RegistryError("NOT_FOUND", `no user ${JSON.stringify(String(name).slice(0, 50))}`);
    const { passwordHash: _, ...user } = found;
    return user;
  }

  /** Applies an admin's changes; disabling also ends the user's console sessions. */
  async update(name: unknown, changes: UserChanges): Promise<UserRecord> {
    const user = await this.user(name);
    await this.store.updateUser(user.id, changes);
    if (changes.disabled) await this.store.deleteSessions(user.id);
    return this.user(name);
  }
}
