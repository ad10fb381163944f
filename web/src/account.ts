// Users mode in the console: the JSON API of src/users (README "Users mode") and the signed-in state. The CSRF
// token comes from sign-in, sign-up or /api/me and goes with every POST/DELETE; the session itself is an HttpOnly
// cookie the page never sees. A pull token's secret is only ever in the answer that made it: kept here for this
// page session (never stored), so the Setup page can fill in the personal address and credentials.

export interface AuthSettings {
  mode: "anonymous" | "users";
  signup: "open" | "invite" | "closed";
  domain: string | null;
}

export interface MirrorInfo {
  url: string;
  registry: string;
  domain: string | null;
}

export interface TokenInfo {
  id: number;
  name: string;
  hint: string;
  createdAt: string | null;
  lastUsed: string | null;
}

export interface NewToken extends TokenInfo {
  secret: string;
  personal: { host: string; url: string } | null;
}

export interface UsageDay {
  day: string;
  requests: number;
  pulls: number;
  bytes: number;
}

export interface MyStats {
  user: string;
  days: UsageDay[];
  today: UsageDay;
  total: { requests: number; pulls: number; bytes: number };
  quota: { requestsPerMinute: number; bytesPerDay: number; bytesLeftToday: number | null };
}

interface SignedIn {
  user: { name: string; admin: boolean };
  csrfToken: string;
  mirror: MirrorInfo;
}

/** An API answer that is not 2xx: its OCI error message, for the page to show. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** One call of the users API; POST and DELETE carry the session's CSRF token. */
export async function call<T>(method: string, path: string, body?: unknown, csrf?: string): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "same-origin",
  });
  const json = (await res.json().catch(() => undefined)) as
    | (T & { errors?: { message?: string }[] })
    | undefined;
  if (!res.ok)
    throw new ApiError(res.status, json?.errors?.[0]?.message || `${method} /${path}: ${res.status}`);
  return json as T;
}

export class Account {
  settings: AuthSettings = { mode: "anonymous", signup: "closed", domain: null };
  me: SignedIn | undefined;
  /** The newest token made in this page session, with its secret: for the Setup page. */
  fresh: NewToken | undefined;
  private readonly listeners = new Set<() => void>();

  get users(): boolean {
    return this.settings.mode === "users";
  }

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private changed(): void {
    for (const f of this.listeners) f();
  }

  /** Settings, then the session if there is one (`{"user": null}`: signed out). */
  async load(): Promise<void> {
    this.settings = await call<AuthSettings>("GET", "api/auth/settings");
    if (!this.users) return;
    const me = await call<SignedIn | { user: null }>("GET", "api/me");
    this.me = me.user ? (me as SignedIn) : undefined;
    this.changed();
  }

  async signUp(name: string, password: string, invite?: string): Promise<NewToken> {
    const r = await call<SignedIn & { token: NewToken }>("POST", "api/auth/signup", {
      name,
      password,
      invite,
    });
    this.me = r;
    this.fresh = r.token;
    this.changed();
    return r.token;
  }

  async signIn(name: string, password: string): Promise<void> {
    this.me = await call<SignedIn>("POST", "api/auth/signin", { name, password });
    this.fresh = undefined;
    this.changed();
  }

  async signOut(): Promise<void> {
    await call("POST", "api/auth/signout", {}, this.me?.csrfToken);
    this.me = undefined;
    this.fresh = undefined;
    this.changed();
  }

  async tokens(): Promise<TokenInfo[]> {
    return (await call<{ tokens: TokenInfo[] }>("GET", "api/me/tokens")).tokens;
  }

  async createToken(name: string): Promise<NewToken> {
    const { token } = await call<{ token: NewToken }>("POST", "api/me/tokens", { name }, this.me?.csrfToken);
    this.fresh = token;
    this.changed();
    return token;
  }

  async revokeToken(id: number): Promise<void> {
    await call("DELETE", "api/me/tokens", { id }, this.me?.csrfToken);
    if (this.fresh?.id === id) this.fresh = undefined;
    this.changed();
  }

  myStats(days: number): Promise<MyStats> {
    return call<MyStats>("GET", `api/me/stats?days=${days}`);
  }
}
