import type { Dispatcher } from "undici";
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import type { Verdict } from "./circuit-breaker.js";
import { first, type RequestKind, type UpstreamDispatchOptions } from "./dispatch-options.js";
import { DEFAULT_RETRY_AFTER_S } from "./token-auth.js";
import { createTransport, type Transport, type UpstreamOptions, type UpstreamState } from "./transport.js";
import type { RateLimit } from "./upstream-metrics.js";

export interface UpstreamResponse {
  status: number;
  headers: Dispatcher.ResponseData["headers"];
  body: Dispatcher.ResponseData["body"];
}

export function header(res: UpstreamResponse, name: string): string | undefined {
  return first(res.headers[name]);
}

/**
 * HTTP to one upstream registry over the composed transport (token auth, redirects to the CDN without
 * credentials, retries before any byte was handed on, metrics); this class only names requests and maps what
 * no caller should handle itself: a 429 and an upstream that can't be reached.
 */
export class RegistryClient {
  readonly registry: string;
  private readonly base: URL;
  private readonly transport: Transport;

  constructor(opts: UpstreamOptions, metrics: Metrics, log: Logger, onRateLimit?: (r: RateLimit) => void) {
    this.registry = opts.registry;
    this.base = new URL(opts.url);
    this.transport = createTransport(opts, { metrics, log, onRateLimit });
  }

  /**
   * Sends a request for `/v2/<repo>/<rest>`. Returns any final status; the caller owns (and must consume) the
   * body. Throws RegistryError for 429 and when the upstream can't be reached, and the signal's reason once it
   * aborts (the body then fails too).
   */
  async request(
    kind: RequestKind,
    method: "GET" | "HEAD",
    repo: string,
    rest: string,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<UpstreamResponse> {
    const url = new URL(`${this.base.pathname.replace(/\/$/, "")}/v2/${repo}/${rest}`, this.base);
    const opts: UpstreamDispatchOptions & { signal?: AbortSignal } = {
      origin: url.origin,
      path: url.pathname + url.search,
      method,
      headers,
      signal,
      kind,
      scope: `repository:${repo}:pull`,
    };
    const breaker = this.transport.breaker;
    const probe = breaker?.admit() ?? false;
    let res: Dispatcher.ResponseData;
    let verdict: Verdict;
    try {
      res = await this.transport.dispatcher.request(opts);
      verdict = res.statusCode >= 500 ? "failed" : "ok";
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const refused = err instanceof RegistryError && err.code !== "UPSTREAM_UNAVAILABLE";
      // A refusal (a 429 from the token server, a realm we won't contact) means upstream is alive.
      verdict = refused ? "ok" : "failed";
      if (err instanceof RegistryError) throw err;
      throw new RegistryError(
        "UPSTREAM_UNAVAILABLE",
        `upstream ${this.registry} unreachable: ${(err as Error).message}`,
      );
    } finally {
      breaker?.settle(probe, verdict);
    }
    const answer = { status: res.statusCode, headers: res.headers, body: res.body };
    if (answer.status === 429) {
      await res.body.dump();
      throw new RegistryError("TOOMANYREQUESTS", `upstream ${this.registry} rate limit reached`, undefined, {
        "Retry-After": header(answer, "retry-after") ?? DEFAULT_RETRY_AFTER_S,
      });
    }
    return answer;
  }

  /** Down while the circuit breaker is open, limited while every account rests after a 429. */
  get state(): UpstreamState {
    return this.transport.state();
  }

  async close(): Promise<void> {
    await this.transport.close();
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
