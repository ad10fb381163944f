import { setTimeout as sleep } from "node:timers/promises";
import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from "undici";
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { DEFAULT_RETRY_AFTER_S, TokenAuth } from "./token-auth.js";

export interface UpstreamOptions {
  registry: string;
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  proxy?: string | undefined;
  connectTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
  retries: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  body: Dispatcher.ResponseData["body"];
}

export type RequestKind = "manifest" | "blob" | "tags" | "referrers";

export interface RateLimit {
  limit: number | undefined;
  remaining: number | undefined;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export function header(res: UpstreamResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseRateLimit(v: string | undefined): number | undefined {
  const n = v ? Number.parseInt(v, 10) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
}

function makeDispatcher(o: UpstreamOptions): Dispatcher {
  const opts = {
    connect: { timeout: o.connectTimeout },
    headersTimeout: o.headersTimeout,
    bodyTimeout: o.bodyTimeout,
    keepAliveTimeout: 30_000,
    connections: 64,
  };
  if (o.proxy) return new ProxyAgent({ uri: o.proxy, ...opts });
  return process.env.HTTPS_PROXY ||
    process.env.HTTP_PROXY ||
    process.env.https_proxy ||
    process.env.http_proxy
    ? new EnvHttpProxyAgent(opts)
    : new Agent(opts);
}

/**
 * HTTP to one upstream registry: token auth, keep-alive, retries with backoff for idempotent requests (only
 * before any byte was handed on), and redirects to a CDN followed without the Authorization header.
 */
export class RegistryClient {
  readonly registry: string;
  private readonly base: URL;
  private readonly dispatcher: Dispatcher;
  private readonly auth: TokenAuth;

  constructor(
    private readonly opts: UpstreamOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly onRateLimit: (r: RateLimit) => void = () => {},
  ) {
    this.registry = opts.registry;
    this.base = new URL(opts.url);
    this.dispatcher = makeDispatcher(opts);
    const creds = opts.username ? { username: opts.username, password: opts.password ?? "" } : undefined;
    this.auth = new TokenAuth(this.dispatcher, creds, log, opts.headersTimeout);
  }

  /**
   * Sends a request for `/v2/<repo>/<rest>`. Returns any final status; the caller owns (and must consume) the
   * body. Throws RegistryError for 429 and when the upstream can't be reached.
   */
  async request(
    kind: RequestKind,
    method: "GET" | "HEAD",
    repo: string,
    rest: string,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<UpstreamResponse> {
    const scope = `repository:${repo}:pull`;
    let url = new URL(`${this.base.pathname.replace(/\/$/, "")}/v2/${repo}/${rest}`, this.base);
    let authRetried = false;
    let redirects = 0;
    for (let attempt = 0; ; ) {
      // Only the registry gets credentials; a redirect target (the Hub's CDN) must not.
      const sameOrigin = url.origin === this.base.origin;
      const authorization = sameOrigin ? await this.auth.authorization(scope) : undefined;
      let res: UpstreamResponse;
      try {
        res = await this.send(url, method, authorization ? { ...headers, authorization } : headers, signal);
      } catch (err) {
        this.metrics.upstreamRequests.inc({ registry: this.registry, kind, method, status: "0" });
        if (signal?.aborted || attempt >= this.opts.retries) {
          throw new RegistryError(
            "UPSTREAM_UNAVAILABLE",
            `upstream ${this.registry} unreachable: ${(err as Error).message}`,
          );
        }
        await this.backoff(attempt++, kind, url, (err as Error).message);
        continue;
      }
      this.metrics.upstreamRequests.inc({
        registry: this.registry,
        kind,
        method,
        status: String(res.status),
      });
      this.noteRateLimit(res);
      if (res.status === 401 && sameOrigin && !authRetried) {
        authRetried = true;
        if (this.auth.unauthorized(header(res, "www-authenticate"), scope, authorization)) {
          await res.body.dump();
          continue;
        }
      }
      const location = header(res, "location");
      if (REDIRECTS.has(res.status) && location && redirects < MAX_REDIRECTS) {
        redirects++;
        await res.body.dump();
        url = new URL(location, url);
        continue;
      }
      if (res.status === 429) {
        await res.body.dump();
        throw new RegistryError(
          "TOOMANYREQUESTS",
          `upstream ${this.registry} rate limit reached`,
          undefined,
          {
            "Retry-After": header(res, "retry-after") ?? DEFAULT_RETRY_AFTER_S,
          },
        );
      }
      if (res.status >= 500 && attempt < this.opts.retries) {
        await res.body.dump();
        await this.backoff(attempt++, kind, url, `status ${res.status}`);
        continue;
      }
      return res;
    }
  }

  private async send(
    url: URL,
    method: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<UpstreamResponse> {
    const res = await this.dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: method as Dispatcher.HttpMethod,
      headers,
      signal,
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  private async backoff(attempt: number, kind: string, url: URL, why: string): Promise<void> {
    const ms = Math.min(1000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);
    this.log.warn(
      { kind, url: url.pathname, attempt: attempt + 1, why, ms: Math.round(ms) },
      "upstream retry",
    );
    await sleep(ms);
  }

  private noteRateLimit(res: UpstreamResponse): void {
    const remaining = parseRateLimit(header(res, "ratelimit-remaining"));
    if (remaining === undefined) return;
    this.metrics.rateLimitRemaining.set({ registry: this.registry }, remaining);
    this.onRateLimit({ limit: parseRateLimit(header(res, "ratelimit-limit")), remaining });
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }
}

/** Maps an upstream status the caller doesn't handle to the OCI error a client should see. */
export function upstreamStatusError(registry: string, status: number, what: string): RegistryError {
  if (status === 404 || status === 401 || status === 403) {
    const code = what.startsWith("blob")
      ? "BLOB_UNKNOWN"
      : what.startsWith("manifest")
        ? "MANIFEST_UNKNOWN"
        : "NAME_UNKNOWN";
    return new RegistryError(code, `${what} not found upstream (${registry} answered ${status})`);
  }
  return new RegistryError("UPSTREAM_ERROR", `${what}: upstream ${registry} answered ${status}`);
}
