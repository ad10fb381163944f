import type { IncomingMessage } from "node:http";
import { RegistryError } from "../errors/oci-errors.js";
import type { MetadataStore, RepoKey } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import type { CacheResult, ProxyBlobStore } from "../proxy/proxy-blob-store.js";
import type { ProxyManifestStore } from "../proxy/proxy-manifest-store.js";
import type { ProxyTagStore } from "../proxy/proxy-tag-store.js";
import type { Stats } from "../stats/stats.js";
import type { Upstream } from "../upstream/upstream.js";
import type { UpstreamSet } from "../upstream/upstreams.js";
import type { MeteredResponse } from "./metered-response.js";

/** What the handlers reach: the proxy layer, never storage or upstream HTTP directly. */
export interface Services {
  blobs: Pick<ProxyBlobStore, "stat" | "get">;
  manifests: Pick<ProxyManifestStore, "byDigest" | "byTag">;
  tags: Pick<ProxyTagStore, "list">;
  /** The catalog. */
  meta: Pick<MetadataStore, "listRepositories">;
  /** Usage accounting (every finished request) and the statistics built from it. */
  stats: Pick<Stats, "record" | "report">;
  /** The configured upstreams and the routing of a request to one of them. */
  upstreams: Pick<UpstreamSet, "resolve" | "registryOf">;
  metrics: Metrics;
  /** False for clients that can't follow a redirect (by User-Agent): they are served directly. */
  mayRedirect: (userAgent: string | undefined) => boolean;
}

/** Who is asking: in users mode, the user the registry auth layer found (src/users/registry-auth.ts). */
export interface Principal {
  name: string;
  /** The user's row id. */
  id: number;
  admin: boolean;
}

/** The read side of URLSearchParams, so requests without a query can share one empty instance. */
export type Query = Pick<URLSearchParams, "get" | "has">;
const NO_QUERY: Query = new URLSearchParams();

export type RouteName =
  | "base"
  | "catalog"
  | "manifests"
  | "blobs"
  | "uploads"
  | "referrers"
  | "tags"
  | "metrics"
  | "health"
  | "admin"
  | "console"
  | "stats"
  | "api"
  | "token"
  | "none";

export type Handler = (s: Services, ctx: RequestContext) => Promise<void>;
export type RepoHandler = (s: Services, ctx: RepoContext) => Promise<void>;

/**
 * One entry of the route table. A string path matches exactly; a pattern's groups are the repository name and
 * the reference. A route with `repo` gets its repository and upstream resolved before the handler runs.
 */
export type Route = { name: RouteName; methods: readonly string[]; path: string | RegExp } & (
  | { handle: Handler; repo?: undefined }
  | { repo: RepoHandler; handle?: undefined }
);

/** Where a request that matched no route ends: NOT_FOUND, labelled "none". */
const NO_ROUTE: Route = {
  name: "none",
  methods: ["GET", "HEAD"],
  path: "",
  handle: async (_s, ctx) => {
    throw new RegistryError("NOT_FOUND", `no route for ${ctx.path.slice(0, 200)}`);
  },
};

/** Per-request state, built once per request; the middleware fill it in, in order. */
export class RequestContext {
  /** performance.now() when the request came in. */
  readonly started = performance.now();
  readonly head: boolean;
  readonly path: string;
  readonly query: Query;
  route: Route = NO_ROUTE;
  /** The repository name and reference as they appear in the path, before validation. */
  rawName = "";
  ref = "";
  /** Set for repository routes, together with `upstream`: the one place a request resolves its upstream. */
  key: RepoKey | undefined = undefined;
  upstream: Upstream | undefined = undefined;
  principal: Principal | undefined = undefined;
  /** For the access log and the usage totals. */
  cache: CacheResult | undefined = undefined;
  /** An image manifest (not an index) is being sent: the request is a pull. */
  pull = false;
  /** Blob body bytes the socket took, counted by the blob sink for the served-bytes metric. */
  bytes = 0;
  /** The status once the response closed; 499 when the client left before it was complete. */
  status = 0;

  constructor(
    readonly req: IncomingMessage,
    readonly res: MeteredResponse,
  ) {
    this.head = req.method === "HEAD";
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    this.path = q < 0 ? raw : raw.slice(0, q);
    this.query = q < 0 ? NO_QUERY : new URLSearchParams(raw.slice(q + 1));
  }
}

/** A context whose repository route was resolved. */
export interface RepoContext extends RequestContext {
  key: RepoKey;
  upstream: Upstream;
}

export function asRepoContext(ctx: RequestContext): RepoContext {
  if (!ctx.key || !ctx.upstream)
    throw new Error(`route ${ctx.route.name} ran before its repository was resolved`);
  return ctx as RepoContext;
}
