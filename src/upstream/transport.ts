import { Agent, type Dispatcher, EnvHttpProxyAgent, interceptors, ProxyAgent } from "undici";
import type { BackoffPolicy } from "../async/backoff.js";
import type { Logger } from "../log/logger.js";
import type { Metrics } from "../metrics/metrics.js";
import { tokenAuth } from "./auth-interceptor.js";
import { RETRY_BACKOFF, retry } from "./retry.js";
import { TokenAuth } from "./token-auth.js";
import { type RateLimit, upstreamMetrics } from "./upstream-metrics.js";

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

export interface Transport {
  /** Send requests through this; `kind` and `scope` in the options label and authorize them. */
  dispatcher: Dispatcher;
  close(): Promise<void>;
}

/**
 * The upstream transport as undici interceptors, innermost first: metrics count every request on the wire
 * (401s, redirect hops and retries included); auth adds the registry's token and retries once after a 401;
 * redirect follows the Hub's 307 to its CDN, and undici drops Authorization when the origin changes, so the
 * CDN never sees a token; retry, outermost, replays a whole failed request, so a retried blob GET gets a
 * freshly signed CDN URL.
 */
export function createTransport(o: UpstreamOptions, deps: TransportDeps): Transport {
  const agent = makeAgent(o);
  const credentials = o.username ? { username: o.username, password: o.password ?? "" } : undefined;
  // The token server is reached without the interceptors: it is no registry and has its own errors.
  const auth = new TokenAuth(agent, credentials, deps.log, o.headersTimeout);
  const dispatcher = agent.compose(
    upstreamMetrics({
      registry: o.registry,
      metrics: deps.metrics,
      onRateLimit: deps.onRateLimit ?? (() => {}),
    }),
    tokenAuth(new URL(o.url).origin, auth),
    interceptors.redirect({ maxRedirections: MAX_REDIRECTS }),
    retry({ retries: o.retries, policy: deps.backoff ?? RETRY_BACKOFF, log: deps.log }),
  );
  return { dispatcher, close: () => agent.close() };
}
