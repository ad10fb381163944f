import { Agent, type Dispatcher, EnvHttpProxyAgent, ProxyAgent } from "undici";
import type { BackoffPolicy } from "../async/backoff.js";
import { type Limits, limitsSchema } from "../config/limits-schema.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { tokenAuth } from "./auth-interceptor.js";
import { type BreakerOptions, CircuitBreaker } from "./circuit-breaker.js";
import { CredentialPool } from "./credential-pool.js";
import { redirects } from "./redirect-limit.js";
import { RETRY_BACKOFF, retry } from "./retry.js";
import { defaultTokenRealms, realmPolicy, ssrfGuard } from "./ssrf-guard.js";
import { type Credentials, TokenAuth } from "./token-auth.js";
import { type RateLimit, upstreamMetrics } from "./upstream-metrics.js";

/** The caps on what is read from an upstream into memory. */
export type AnswerLimits = Pick<Limits, "maxManifestSize" | "maxUpstreamJsonSize">;

/** The `limits` section's defaults, for a client built without a config. */
const DEFAULT_ANSWER_LIMITS: AnswerLimits = limitsSchema.parse({});

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
  /** More accounts, after `username`/`password` (if set); see CredentialPool for how one is chosen. */
  credentials?: Credentials[] | undefined;
  /**
   * Origins (or URLs) a `WWW-Authenticate` realm may point to besides the upstream's own host name; unset, the
   * well-known one of the upstream (auth.docker.io for registry-1.docker.io).
   */
  tokenRealms?: string[] | undefined;
  /** Follow redirects to private, loopback and link-local addresses on other hosts than the upstream's. */
  allowPrivateRedirects?: boolean | undefined;
  /** Fail fast while the upstream is down; unset or 0 failures, no breaker. */
  breaker?: BreakerOptions | undefined;
  /** Caps on manifests and JSON answers (config `limits`); unset, their defaults. */
  limits?: AnswerLimits | undefined;
}

export function answerLimits(o: UpstreamOptions): AnswerLimits {
  return o.limits ?? DEFAULT_ANSWER_LIMITS;
}

export interface TransportDeps {
  metrics: Metrics;
  log: Logger;
  onRateLimit?: (r: RateLimit) => void;
  /** Tests shorten it. */
  backoff?: BackoffPolicy;
}

const MAX_REDIRECTS = 5;

/** The connection pool, through an HTTP(S) proxy when one is configured or set in the environment. */
function makeAgent(o: UpstreamOptions): Dispatcher {
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

export type UpstreamState = "up" | "down" | "limited";

/** The value of hubmirror_upstream_state for each state. */
export const UPSTREAM_STATE: Record<UpstreamState, number> = { up: 0, down: 1, limited: 2 };

export interface Transport {
  /** Send requests through this; `kind` and `scope` in the options label and authorize them. */
  dispatcher: Dispatcher;
  pool: CredentialPool;
  /** RegistryClient admits each request through it. */
  breaker: CircuitBreaker | undefined;
  /** Down while the circuit is open, limited while every account rests after a 429. */
  state(): UpstreamState;
  close(): Promise<void>;
}

/**
 * The upstream transport as undici interceptors, innermost first: the SSRF guard refuses hops to private
 * addresses before any connection; metrics count every request on the wire (401s, 429s, redirect hops and
 * retries included); auth adds an account's token, retries once after a 401 and as another account after a
 * 429; redirect follows the Hub's 307 to its CDN, and undici drops Authorization when the origin changes, so
 * the CDN never sees a token; retry, outermost, replays a whole failed request, so a retried blob GET gets a
 * freshly signed CDN URL. The circuit breaker sits above all, in RegistryClient, so a request counts once.
 */
export function createTransport(o: UpstreamOptions, deps: TransportDeps): Transport {
  const agent = makeAgent(o);
  const base = new URL(o.url);
  const accounts = [
    ...(o.username ? [{ username: o.username, password: o.password ?? "" }] : []),
    ...(o.credentials ?? []),
  ];
  const pool = new CredentialPool(accounts, o.registry, deps.metrics);
  const realms = realmPolicy(base, o.tokenRealms ?? defaultTokenRealms(base));
  // The token server is reached without the interceptors: it is no registry and has its own errors.
  const auth = new TokenAuth(agent, deps.log, o.headersTimeout, realms, answerLimits(o).maxUpstreamJsonSize);
  const breaker = o.breaker && o.breaker.failures > 0 ? new CircuitBreaker(o.registry, o.breaker) : undefined;
  const state = (): UpstreamState =>
    breaker && breaker.state !== "closed" ? "down" : pool.limited ? "limited" : "up";
  const readState = () => UPSTREAM_STATE[state()];
  deps.metrics.upstreamStates.set(o.registry, readState);
  const dispatcher = agent.compose(
    ssrfGuard(base, o.allowPrivateRedirects ?? false),
    upstreamMetrics({
      registry: o.registry,
      metrics: deps.metrics,
      onRateLimit: deps.onRateLimit ?? (() => {}),
    }),
    tokenAuth(base.origin, auth, pool),
    redirects(MAX_REDIRECTS),
    retry({ retries: o.retries, policy: deps.backoff ?? RETRY_BACKOFF, log: deps.log }),
  );
  const close = () => {
    if (deps.metrics.upstreamStates.get(o.registry) === readState)
      deps.metrics.upstreamStates.delete(o.registry);
    return agent.close();
  };
  return { dispatcher, pool, breaker, state, close };
}
