import type { IncomingMessage, ServerResponse } from "node:http";
import { RegistryError } from "../errors/oci-errors.js";
import type { UserRecord, UserStore } from "../metadata/user-store.js";
import { isSecure, ownOrigins, type PublicAddress } from "./origin.js";
import { deriveKey, randomBase32, sameSecret, secretHash } from "./secrets.js";

/** A signed-in browser: its user, the session's hash (its row), and the CSRF token its state changes carry. */
export interface Session {
  user: UserRecord;
  hash: string;
  csrf: string;
}

export const CSRF_HEADER = "x-csrf-token";

/**
 * Console sessions in cookies. The cookie holds a random secret; the database its hash. Attributes: `HttpOnly`
 * (no script reads it), `SameSite=Strict` (no cross-site request carries it), `Path=/`, and `Secure` whenever the
 * browser came over TLS (directly or through a proxy named by `auth.url`). Over plain HTTP a `Secure` cookie is
 * dropped by browsers except on localhost, so it is left off there: the http://localhost console and tests work,
 * and a mirror served over plain HTTP on a LAN still signs in. With `Secure` the cookie also takes the `__Host-`
 * prefix, so no other host or path can plant one.
 *
 * CSRF: every state-changing call needs the session's CSRF token in `X-CSRF-Token` (an HMAC of the session secret:
 * nothing to store, unreadable cross-origin since it only comes in JSON answers) and, when the browser sends an
 * `Origin`, our own origin.
 */
export class Sessions {
  private readonly csrfKey: Buffer;

  constructor(
    private readonly store: UserStore,
    serverSecret: Buffer,
    private readonly lifetimeMs: number,
    private readonly pub: PublicAddress,
  ) {
    this.csrfKey = deriveKey(serverSecret, "csrf");
  }

  private cookieName(req: IncomingMessage): string {
    return isSecure(req, this.pub) ? "__Host-hubmirror_session" : "hubmirror_session";
  }

  private csrfOf(hash: string): string {
    return deriveKey(this.csrfKey, hash).toString("base64url");
  }

  /** Starts a session for `user`: its cookie goes on `res`; resolves with the CSRF token for the answer. */
  async start(req: IncomingMessage, res: ServerResponse, user: UserRecord): Promise<string> {
    const secret = randomBase32(32);
    const hash = secretHash(secret);
    const now = Date.now();
    await this.store.deleteExpiredSessions(now);
    await this.store.createSession(hash, user.id, now + this.lifetimeMs);
    const maxAge = Math.ceil(this.lifetimeMs / 1000);
    res.appendHeader("Set-Cookie", this.cookie(req, `${secret}; Max-Age=${maxAge}`));
    return this.csrfOf(hash);
  }

  /** The request's session, if its cookie names a live one whose user is enabled. */
  async current(req: IncomingMessage): Promise<Session | undefined> {
    const secret = readCookie(req.headers.cookie, this.cookieName(req));
    if (!secret) return undefined;
    const hash = secretHash(secret);
    const user = await this.store.sessionUser(hash, Date.now());
    if (!user || user.disabled) return undefined;
    return { user, hash, csrf: this.csrfOf(hash) };
  }

  async end(req: IncomingMessage, res: ServerResponse, session: Session | undefined): Promise<void> {
    if (session) await this.store.deleteSession(session.hash);
    res.appendHeader("Set-Cookie", this.cookie(req, "; Max-Age=0"));
  }

  private cookie(req: IncomingMessage, valueAndAge: string): string {
    const secure = isSecure(req, this.pub) ? "; Secure" : "";
    return `${this.cookieName(req)}=${valueAndAge}; Path=/; HttpOnly; SameSite=Strict${secure}`;
  }

  /**
   * Refuses a state-changing request that another site could have sent: an `Origin` (or `Sec-Fetch-Site`) that is
   * not ours; and, for a signed-in call, a missing or wrong CSRF token.
   */
  checkStateChange(req: IncomingMessage, session: Session | undefined): void {
    const origin = req.headers.origin;
    const site = req.headers["sec-fetch-site"];
    if ((origin && !ownOrigins(req, this.pub).includes(origin)) || (site && site !== "same-origin")) {
      throw new RegistryError("DENIED", "cross-origin request refused");
    }
    if (!session) return;
    const given = req.headers[CSRF_HEADER];
    if (typeof given !== "string" || !sameSecret(given, session.csrf)) {
      throw new RegistryError("DENIED", `missing or wrong ${CSRF_HEADER} header`);
    }
  }
}

/** One cookie's value from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
