import { RegistryError } from "../errors/oci-errors.js";
import type { PullTokenRecord, UserRecord, UserStore } from "../metadata/user-store.js";
import { newPullToken, PULL_TOKEN, secretHash } from "./secrets.js";

/** A token just made: its secret is shown this once, then only its hash is kept. */
export interface NewPullToken {
  token: PullTokenRecord;
  secret: string;
}

const HINT_LENGTH = 4;

/** A token's label, chosen by its user ("laptop", "ci"). */
export function checkTokenName(name: unknown): string {
  if (name === undefined) return "default";
  if (typeof name !== "string" || !/^[\w .@-]{1,64}$/.test(name)) {
    throw new RegistryError("REQUEST_INVALID", "a token name has 1 to 64 letters, digits, spaces or ._@-");
  }
  return name;
}

/**
 * Users' pull tokens: what a registry client authenticates with (as the password, or as the first label of a
 * personal address). Each is 160 random bits, so its hash alone identifies it and a guess is hopeless; a user may
 * hold several (one per machine) and revoke each.
 */
export class PullTokens {
  constructor(private readonly store: UserStore) {}

  async create(userId: number, name = "default"): Promise<NewPullToken> {
    const secret = newPullToken();
    const hint = secret.slice(0, HINT_LENGTH);
    return { token: await this.store.addPullToken(userId, { hash: secretHash(secret), name, hint }), secret };
  }

  /** Revokes every token of the user (and the bearer tokens issued for them) and makes a new one. */
  async reset(userId: number): Promise<NewPullToken> {
    await this.store.deletePullTokens(userId);
    return this.create(userId);
  }

  /** The token a secret is, and its user; undefined when it is none. Records the use. */
  async bySecret(secret: string): Promise<{ token: PullTokenRecord; user: UserRecord } | undefined> {
    if (!PULL_TOKEN.test(secret)) return undefined;
    const found = await this.store.pullTokenByHash(secretHash(secret));
    if (found) this.store.touchPullToken(found.token.id, Date.now());
    return found;
  }
}
