// A browser-like client of the users API for tests: keeps the session cookie and the CSRF token as the console
// does, sends the page's Origin, and lets a test leave any of them out to play the attacker.
import { request } from "undici";

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> & { errors?: { code: string; message: string }[] };
}

export interface CallOptions {
  /** Leave out the X-CSRF-Token header. */
  noCsrf?: boolean;
  headers?: Record<string, string>;
}

export class ApiClient {
  cookie: string | undefined;
  csrf: string | undefined;

  constructor(readonly base: string) {}

  async call(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body?: unknown,
    o: CallOptions = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { origin: this.base, ...o.headers };
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf && !o.noCsrf) headers["x-csrf-token"] = this.csrf;
    if (body !== undefined) headers["content-type"] ??= "application/json";
    const res = await request(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    const setCookie = res.headers["set-cookie"];
    for (const c of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const pair = c.split(";")[0] as string;
      this.cookie = /Max-Age=0\b/.test(c) ? undefined : pair;
    }
    const parsed = text ? (JSON.parse(text) as Answer["body"]) : {};
    if (typeof parsed.csrfToken === "string") this.csrf = parsed.csrfToken;
    return { status: res.statusCode, headers: res.headers, body: parsed };
  }

  get = (path: string) => this.call("GET", path);
  post = (path: string, body: unknown = {}, o?: CallOptions) => this.call("POST", path, body, o);
  delete = (path: string, body: unknown = {}, o?: CallOptions) => this.call("DELETE", path, body, o);

  async signUp(name: string, password: string, invite?: string): Promise<Answer> {
    return this.post("/api/auth/signup", { name, password, ...(invite ? { invite } : {}) });
  }

  async signIn(name: string, password: string): Promise<Answer> {
    return this.post("/api/auth/signin", { name, password });
  }
}

/** Whom `/api/me` names: the signed-in user, or null when signed out (still a 200: signed out is no error). */
export async function whoAmI(c: ApiClient): Promise<string | null> {
  const me = await c.get("/api/me");
  if (me.status !== 200) throw new Error(`GET /api/me answered ${me.status}: ${JSON.stringify(me.body)}`);
  return (me.body.user as { name: string } | null)?.name ?? null;
}

/** Every call of the user admin API (users and invites), each with a body it would take: all admins only. */
export const ADMIN_CALLS: [method: "GET" | "POST" | "DELETE", path: string, body?: unknown][] = [
  ["GET", "/api/users"],
  ["GET", "/api/users/stats?name=bob"],
  ["POST", "/api/users", { name: "mallory", admin: true }],
  ["POST", "/api/users/disable", { name: "bob" }],
  ["POST", "/api/users/enable", { name: "bob" }],
  ["POST", "/api/users/quota", { name: "alice", requestsPerMinute: 0 }],
  ["POST", "/api/users/reset-token", { name: "bob" }],
  ["GET", "/api/invites"],
  ["POST", "/api/invites", {}],
  ["DELETE", "/api/invites", { id: 1 }],
];

/** The code of an answer's first OCI error. */
export const code = (a: Answer): string | undefined => a.body.errors?.[0]?.code;

/** A user made through the admin API (loopback), with their password and first pull token. */
export async function addUser(
  base: string,
  name: string,
  opts: { admin?: boolean; password?: string } = {},
): Promise<{ name: string; password: string; token: string; tokenId: number }> {
  const password = opts.password ?? `${name}-password`;
  const res = await request(`${base}/admin/users`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password, admin: opts.admin === true }),
  });
  const body = (await res.body.json()) as { token: { secret: string; id: number } };
  if (res.statusCode !== 200) throw new Error(`add ${name}: ${res.statusCode} ${JSON.stringify(body)}`);
  return { name, password, token: body.token.secret, tokenId: body.token.id };
}

export const basic = (user: string, secret: string) =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`;
