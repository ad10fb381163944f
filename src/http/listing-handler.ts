import { RegistryError } from "../errors/oci-errors.js";
import { OCI_INDEX } from "../proxy/media-types.js";
import { parseDigest } from "../reference/reference.js";
import type { Query, RepoContext, RequestContext, Services } from "./context.js";
import { STALE_WARNING, sendJson } from "./respond.js";

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

function pageSize(query: Query): number {
  const raw = query.get("n");
  if (raw === null || raw === "") return DEFAULT_PAGE;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new RegistryError("PAGINATION_NUMBER_INVALID", `invalid page size n=${raw.slice(0, 50)}`);
  }
  return Math.min(n, MAX_PAGE);
}

/**
 * A next-page link on the request's own path (a registry prefix included) with its `?ns=`, so the next page is
 * routed to the same upstream.
 */
function pageLink(ctx: RequestContext, query: string): string {
  const ns = ctx.query.get("ns");
  return `<${ctx.path}?${query}${ns ? `&ns=${encodeURIComponent(ns)}` : ""}>; rel="next"`;
}

function nextLink(ctx: RequestContext, n: number, last: string | undefined): string | undefined {
  return last === undefined ? undefined : pageLink(ctx, `n=${n}&last=${encodeURIComponent(last)}`);
}

/** Upstream's link names upstream's path; only its query is kept. */
function upstreamLink(ctx: RequestContext, link: string): string | undefined {
  const query = /^<[^?>]*\?([^>]*)>/.exec(link)?.[1];
  return query ? pageLink(ctx, query) : undefined;
}

/** GET /v2/_catalog: the repositories this mirror holds (local only; Docker Hub has no catalog). */
export async function handleCatalog(s: Services, ctx: RequestContext): Promise<void> {
  const n = pageSize(ctx.query);
  // The catalog of one upstream, chosen as a repository's is (there is no name to carry a path prefix).
  const registry = s.upstreams.registryOf(ctx.query.get("ns"), ctx.req.headers.host);
  const repos = n === 0 ? [] : await s.meta.listRepositories(registry, n, ctx.query.get("last") ?? undefined);
  const link = nextLink(ctx, n, repos.length === n && n > 0 ? repos[repos.length - 1] : undefined);
  sendJson(ctx, JSON.stringify({ repositories: repos }), link ? { Link: link } : {});
}

/** GET /v2/<name>/tags/list: renders what the tag store answers, upstream's page or the copy it fell back to. */
export async function handleTags(s: Services, ctx: RepoContext): Promise<void> {
  const n = ctx.query.has("n") ? pageSize(ctx.query) : undefined;
  const list = await s.tags.list(ctx.upstream, ctx.key, n, ctx.query.get("last") ?? undefined);
  ctx.cache = list.stale ? "stale" : "miss";
  const headers: Record<string, string> = list.stale ? { Warning: STALE_WARNING } : {};
  const link = list.link ? upstreamLink(ctx, list.link) : nextLink(ctx, n ?? DEFAULT_PAGE, list.more);
  if (link) headers.Link = link;
  sendJson(ctx, list.body, headers);
}

/** GET /v2/<name>/referrers/<digest>: upstream's index when it has one, else an empty index. */
export async function handleReferrers(_s: Services, ctx: RepoContext): Promise<void> {
  const digest = parseDigest(ctx.ref);
  const artifactType = ctx.query.get("artifactType");
  const q = artifactType ? `artifactType=${encodeURIComponent(artifactType)}` : "";
  const found = await ctx.upstream.getReferrers(ctx.key.repo, digest, q).catch(() => undefined);
  const body = found?.body ?? JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
  ctx.cache = found ? "miss" : "hit";
  sendJson(ctx, body, { "Content-Type": OCI_INDEX });
}
