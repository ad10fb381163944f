import type { Dispatcher } from "undici";
import { SingleFlight } from "../async/single-flight.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import { readBounded } from "./bounded-read.js";
import { first } from "./dispatch-options.js";
import { parseUpstreamJson, TokenResponse } from "./upstream-json.js";

export interface Challenge {
  scheme: "bearer" | "basic";
  realm?: string;
  service?: string;
}

export interface Credentials {
  username: string;
  password: string;
}

/** Who a request is sent as: tokens are cached per account and scope. */
export interface Account {
  readonly id: number;
  readonly credentials: Credentials | undefined;
}

interface CachedToken {
  header: string;
  expiresAt: number;
}

// Refresh this long before a token expires so a request never carries one that lapses in flight.
const EXPIRY_MARGIN_MS = 30_000;
const DEFAULT_EXPIRES_IN_S = 60;
/**
 * Sent with a 429 when upstream gave no Retry-After: podman and skopeo wait that long, up to four times, so a
 * minute would turn one refusal into minutes of waiting.
 */
export const DEFAULT_RETRY_AFTER_S = "10";

/** Parses `Bearer realm="…",service="…",scope="…"` (or Basic) from a WWW-Authenticate header. */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  const scheme = m?.[1]?.toLowerCase();
  if (scheme !== "bearer" && scheme !== "basic") return undefined;
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? "").matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g)) {
    const key = p[1]?.toLowerCase();
    if (key) params[key] = p[2] ?? p[3] ?? "";
  }
  return { scheme, realm: params.realm, service: params.service };
}

function basic(credentials: Credentials | undefined): string | undefined {
  if (!credentials) return undefined;
  const { username, password } = credentials;
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/** `p`, or the signal's reason as soon as it aborts (p itself runs on for whoever else waits on it). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Upstream auth: learns the challenge from the first 401, then fetches and caches one bearer token per account
 * and scope until shortly before it expires. Concurrent requests for one of them share one token fetch. A realm
 * that `allowRealm` refuses is never contacted: a hostile challenge must not make us connect anywhere (SSRF), nor
 * carry an account's password there.
 */
export class TokenAuth {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly fetches = new SingleFlight<string, string>();

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
    private readonly timeoutMs: number,
    private readonly allowRealm: (realm: URL) => boolean,
    /** Largest token answer read (limits.maxUpstreamJsonSize). */
    private readonly maxSize: number,
  ) {}

  /**
   * The Authorization header for a scope, or undefined while no challenge is known. `signal` ends this caller's
   * wait; the shared token fetch runs on for the others waiting on it (bounded by its own timeout).
   */
  async authorization(account: Account, scope: string, signal?: AbortSignal): Promise<string | undefined> {
    signal?.throwIfAborted();
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === "basic") return basic(account.credentials);
    const key = `${account.id} ${scope}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.header;
    return untilAborted(
      this.fetches.do(key, () => this.fetchToken(c, account, scope, key)),
      signal,
    );
  }

  /**
   * Learns from a 401 to a request sent with `sent` (its Authorization header, if any); true when retrying with
   * fresh credentials could succeed. Concurrent cold requests each get their 401 before any challenge is known,
   * so a request that carried nothing is always worth one retry.
   */
  unauthorized(
    wwwAuthenticate: string | undefined,
    account: Account,
    scope: string,
    sent: string | undefined,
  ): boolean {
    const c = parseChallenge(wwwAuthenticate);
    if (!c || (c.scheme === "bearer" && !c.realm)) return false;
    if (c.scheme === "basic" && !account.credentials) return false;
    this.challenge = c;
    if (!sent) return true;
    // Drop the token only if it is the one that was refused, not one another request fetched since.
    const key = `${account.id} ${scope}`;
    if (this.tokens.get(key)?.header === sent) {
      this.tokens.delete(key);
      return c.scheme === "bearer";
    }
    return true;
  }

  private async fetchToken(c: Challenge, account: Account, scope: string, key: string): Promise<string> {
    const url = URL.canParse(c.realm as string) ? new URL(c.realm as string) : undefined;
    if (!url || !/^https?:$/.test(url.protocol) || !this.allowRealm(url)) {
      throw new RegistryError("UPSTREAM_ERROR", `token realm not allowed: ${url?.origin ?? "unparsable"}`);
    }
    if (c.service) url.searchParams.set("service", c.service);
    url.searchParams.append("scope", scope);
    const headers: Record<string, string> = { accept: "application/json" };
    const auth = basic(account.credentials);
    if (auth) headers.authorization = auth;
    let res: Dispatcher.ResponseData;
    try {
      res = await this.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: "GET",
        headers,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw new RegistryError("UPSTREAM_UNAVAILABLE", `token server unreachable: ${(err as Error).message}`);
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      if (res.statusCode === 429) {
        const retryAfter = first(res.headers["retry-after"]) ?? DEFAULT_RETRY_AFTER_S;
        throw new RegistryError("TOOMANYREQUESTS", "upstream token server rate limit", undefined, {
          "Retry-After": retryAfter,
        });
      }
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new RegistryError("DENIED", `upstream token server refused scope ${scope}`);
      }
      throw new RegistryError("UPSTREAM_ERROR", `token server answered ${res.statusCode}`);
    }
    const what = "token answer";
    const body = await readBounded(res.body, first(res.headers["content-length"]), {
      limit: this.maxSize,
      deadlineMs: this.timeoutMs,
      what,
    });
    const { token, expiresIn } = parseUpstreamJson(TokenResponse, body, what);
    const lifetime = (expiresIn ?? DEFAULT_EXPIRES_IN_S) * 1000;
    const header = `Bearer ${token}`;
    this.tokens.set(key, {
      header,
      expiresAt: Date.now() + lifetime - Math.min(EXPIRY_MARGIN_MS, lifetime / 2),
    });
    this.log.debug({ scope, lifetime }, "upstream token fetched");
    return header;
  }
}
