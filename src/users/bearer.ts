import { createHmac } from "node:crypto";
import { sameSecret } from "./secrets.js";

/** What a bearer token stands for: one pull token (so resetting it revokes the bearer tokens too). */
export interface BearerClaims {
  tokenId: number;
  userId: number;
}

export interface IssuedToken {
  token: string;
  /** Seconds, as Docker's token responses put it. */
  expiresIn: number;
  issuedAt: string;
}

const PREFIX = "hm1.";

/**
 * The mirror's own short-lived registry tokens: `hm1.<claims>.<HMAC-SHA256>`, base64url. Clients treat them as
 * opaque, so no JWT machinery is needed; the signature only proves this mirror issued them, and each use still
 * looks the pull token and its user up, so a disabled user or a reset token is refused at once.
 */
export class BearerTokens {
  constructor(
    private readonly key: Buffer,
    private readonly lifetimeMs: number,
  ) {}

  private sign(payload: string): string {
    return createHmac("sha256", this.key).update(payload).digest("base64url");
  }

  issue(claims: BearerClaims, now = Date.now()): IssuedToken {
    const exp = Math.floor((now + this.lifetimeMs) / 1000);
    const payload = Buffer.from(JSON.stringify({ t: claims.tokenId, u: claims.userId, exp })).toString(
      "base64url",
    );
    return {
      token: `${PREFIX}${payload}.${this.sign(payload)}`,
      expiresIn: Math.round(this.lifetimeMs / 1000),
      issuedAt: new Date(now).toISOString(),
    };
  }

  /** The claims of a token this mirror signed and that has not expired; undefined otherwise. */
  verify(token: string, now = Date.now()): BearerClaims | undefined {
    if (!token.startsWith(PREFIX)) return undefined;
    const dot = token.indexOf(".", PREFIX.length);
    if (dot < 0) return undefined;
    const payload = token.slice(PREFIX.length, dot);
    if (!sameSecret(token.slice(dot + 1), this.sign(payload))) return undefined;
    try {
      const c = JSON.parse(Buffer.from(payload, "base64url").toString()) as {
        t: unknown;
        u: unknown;
        exp: unknown;
      };
      if (typeof c.t !== "number" || typeof c.u !== "number" || typeof c.exp !== "number") return undefined;
      return c.exp * 1000 > now ? { tokenId: c.t, userId: c.u } : undefined;
    } catch {
      return undefined;
    }
  }
}
