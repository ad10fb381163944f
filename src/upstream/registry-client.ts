import type { Dispatcher } from "undici";
import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { readBounded, UpstreamAnswerError } from "./bounded-read.js";
import type { Verdict } from "./circuit-breaker.js";
import { first, type RequestKind, type UpstreamDispatchOptions } from "./dispatch-options.js";
import { DEFAULT_RETRY_AFTER_S } from "./token-auth.js";
import {
  type AnswerLimits,
  answerLimits,
  createTransport,
  type Transport,
  type UpstreamOptions,
  type UpstreamState,
} from "./transport.js";
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
 * credentials, retries before any byte was handed on, metrics); this class only names requests, reads small
 * answers within bounds and maps what no caller should handle itself: a 429, an upstream that can't be reached,
 * and an answer refused as broken or hostile (counted and logged here).
 */
export class RegistryClient {
  readonly registry: string;
  readonly limits: AnswerLimits;
  private readonly base: URL;
  private readonly transport: Transport;
  private readonly bodyTimeout: number;

  constructor(
    opts: UpstreamOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    onRateLimit?: (r: RateLimit) => void,
  ) {
    this.registry = opts.registry;
    this.base = new URL(opts.url);
    this.limits = answerLimits(opts);
    this.bodyTimeout = opts.bodyTimeout;
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
      if (err instanceof RegistryError) throw this.refused(err);
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

  /** A whole small answer (manifest, tag list) of at most `limit` bytes, within the body timeout. */
  async read(res: UpstreamResponse, limit: number, what: string, signal?: AbortSignal): Promise<Buffer> {
    const o = { limit, deadlineMs: this.bodyTimeout, what, signal };
    try {
      return await readBounded(res.body, header(res, "content-length"), o);
    } catch (err) {
      throw this.refused(err);
    }
  }

  /** Counts and logs a refused answer (once, however many requests shared it) and hands the error back. */
  refused<E>(err: E): E {
    if (!(err instanceof UpstreamAnswerError) || err.reported) return err;
    err.reported = true;
    const { reason } = err;
    this.metrics.upstreamRefused.inc({ registry: this.registry, reason });
    // A broken connection or a slow answer may pass; bad content means the upstream is broken.
    const level = reason === "cut" || reason === "too_slow" ? "warn" : "error";
    this.log[level]({ registry: this.registry, reason, err: err.message }, "upstream answer refused");
    return err;
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
