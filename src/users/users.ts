import type { IncomingMessage } from "node:http";
import type { AdminRoute } from "../admin/admin-api.js";
import type { AuthConfig } from "../config/auth-schema.js";
import type { Middleware } from "../http/compose.js";
import type { RequestContext } from "../http/context.js";
import type { UserStore } from "../metadata/user-store.js";
import { Accounts } from "./accounts.js";
import { type ApiRoute, apiRouter } from "./api-router.js";
import { authRoutes } from "./auth-routes.js";
import { BearerTokens } from "./bearer.js";
import { meRoutes } from "./me-routes.js";
import type { PublicAddress } from "./origin.js";
import { PullTokens } from "./pull-tokens.js";
import { QuotaGate } from "./quota.js";
import { RegistryAuth } from "./registry-auth.js";
import { deriveKey, loadServerSecret } from "./secrets.js";
import { type Session, Sessions } from "./sessions.js";
import { tokenEndpoint } from "./token-endpoint.js";
import { adminApiRoutes, apiAdminRoutes } from "./user-admin-routes.js";

/** The API paths this module answers; other `/api/` paths pass on (e.g. /api/stats). */
const API_PREFIXES = ["/api/auth", "/api/me", "/api/users", "/api/invites"];

/**
 * Users mode: accounts, console sessions, pull tokens and personal addresses, the mirror's token endpoint,
 * per-user quotas, and the registry auth layer. Built in either mode, so the admin API can prepare accounts
 * before the mirror is switched to `auth.mode: users`; only then are registry requests and sign-ins gated.
 */
export class Users {
  readonly pub: PublicAddress;
  readonly tokens: PullTokens;
  readonly accounts: Accounts;
  readonly sessions: Sessions;
  readonly quota: QuotaGate;
  readonly bearer: BearerTokens;
  private readonly auth: RegistryAuth;

  constructor(
    readonly config: AuthConfig,
    readonly store: UserStore,
    secret: Buffer,
  ) {
    this.pub = { url: config.url ? new URL(config.url) : undefined, domain: config.domain };
    this.tokens = new PullTokens(store);
    this.accounts = new Accounts(store, this.tokens, config);
    this.sessions = new Sessions(store, secret, config.sessionLifetime, this.pub);
    this.quota = new QuotaGate(config.quota, store);
    this.bearer = new BearerTokens(deriveKey(secret, "bearer"), config.tokenLifetime);
    this.auth = new RegistryAuth(this);
  }

  /** Reads (or creates) the server secret in the data directory. */
  static async open(config: AuthConfig, store: UserStore, dataDir: string): Promise<Users> {
    return new Users(config, store, await loadServerSecret(dataDir));
  }

  get enabled(): boolean {
    return this.config.mode === "users";
  }

  /** The `/api/auth…`, `/api/me…`, `/api/users…`, `/api/invites…` JSON API and, in users mode, `/token`. */
  api(): Middleware<RequestContext>[] {
    const routes = [...authRoutes(this), ...meRoutes(this), ...apiAdminRoutes(this)];
    const enabled = (r: ApiRoute) => this.enabled || r.path === "/api/auth/settings";
    const router = apiRouter(routes, API_PREFIXES, this.sessions, enabled);
    return this.enabled ? [router, tokenEndpoint(this, this.auth)] : [router];
  }

  /** The registry auth layer (sets ctx.principal); undefined in anonymous mode. */
  registryAuth(): Middleware<RequestContext> | undefined {
    return this.enabled ? this.auth.middleware() : undefined;
  }

  /** The user admin operations on the admin API, for `hubmirror users`. */
  adminRoutes(): AdminRoute[] {
    return adminApiRoutes(this);
  }

  /** The signed-in console user of a request, for other APIs that show per-user or admin-only figures. */
  session(req: IncomingMessage): Promise<Session | undefined> {
    return this.enabled ? this.sessions.current(req) : Promise.resolve(undefined);
  }
}
