import { RegistryError } from "../errors/oci-errors.js";
import { OCI_INDEX } from "../proxy/media-types.js";
import { parseDigest } from "../reference/reference.js";
import type { RequestContext, Services } from "./context.js";

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

function pageSize(query: URLSearchParams): number {
  const raw = query.get("n");
  if (raw === null || raw === "") return DEFAULT_PAGE;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new RegistryError("PAGINATION_NUMBER_INVALID", `invalid page size n=${raw.slice(0, 50)}`);
  }
  return Math.min(n, MAX_PAGE);
}

function sendJson(ctx: RequestContext, body: Buffer | string, headers: Record<string, string> = {}): void {
  const buf = typeof body === "string" ? Buffer.from(body) : body;
  ctx.res.writeHead(200, { "Content-Type": "application/json", "Content-Length": buf.length, ...headers });
  ctx.bytes = ctx.head ? 0 : buf.length;
  ctx.res.end(ctx.head ? undefined : buf);
}

function nextLink(path: string, n: number, last: string | undefined): Record<string, string> {
  if (last === undefined) return {};
  return { Link: `<${path}?n=${n}&last=${encodeURIComponent(last)}>; rel="next"` };
}

/** GET /v2/_catalog: the repositories this mirror holds (local only; Docker Hub has no catalog). */
export async function handleCatalog(s: Services, ctx: RequestContext): Promise<void> {
  const n = pageSize(ctx.query);
  const repos =
    n === 0 ? [] : await s.meta.listRepositories(ctx.key.registry, n, ctx.query.get("last") ?? undefined);
  const last = repos.length === n && n > 0 ? repos[repos.length - 1] : undefined;
  sendJson(ctx, JSON.stringify({ repositories: repos }), nextLink("/v2/_catalog", n, last));
}

/** GET /v2/<name>/tags/list: proxied; when upstream fails, the copy we last saw, else the tags we hold. */
export async function handleTags(s: Services, ctx: RequestContext): Promise<void> {
  const n = ctx.query.has("n") ? pageSize(ctx.query) : undefined;
  const last = ctx.query.get("last") ?? undefined;
  const query = new URLSearchParams();
  if (n !== undefined) query.set("n", String(n));
  if (last !== undefined) query.set("last", last);
  const q = query.toString();
  try {
    const { body, link } = await s.upstreams(ctx.key.registry).getTags(ctx.key.repo, q);
    await s.meta.putTagList(ctx.key, q, body);
    ctx.cache = "miss";
    sendJson(ctx, body, link ? { Link: link } : {});
    return;
  } catch (err) {
    const code = (err as RegistryError).code;
    if (code === "NAME_UNKNOWN" || code === "UNKNOWN") throw err;
    const cached = await s.meta.getTagList(ctx.key, q);
    if (cached) {
      ctx.cache = "stale";
      sendJson(ctx, cached, { Warning: '110 hubmirror "Response is Stale"' });
      return;
    }
    const all = (await s.meta.listTags(ctx.key)).filter((t) => last === undefined || t > last);
    if (all.length === 0) throw err;
    const page = all.slice(0, n ?? all.length);
    ctx.cache = "stale";
    const more = n !== undefined && all.length > n ? page[page.length - 1] : undefined;
    sendJson(ctx, JSON.stringify({ name: ctx.key.repo, tags: page }), {
      Warning: '110 hubmirror "Response is Stale"',
      ...nextLink(`/v2/${ctx.key.repo}/tags/list`, n ?? DEFAULT_PAGE, more),
    });
  }
}

/** GET /v2/<name>/referrers/<digest>: upstream's index when it has one, else an empty index. */
export async function handleReferrers(s: Services, ctx: RequestContext, rawDigest: string): Promise<void> {
  const digest = parseDigest(rawDigest);
  const artifactType = ctx.query.get("artifactType");
  const q = artifactType ? `artifactType=${encodeURIComponent(artifactType)}` : "";
  const found = await s
    .upstreams(ctx.key.registry)
    .getReferrers(ctx.key.repo, digest, q)
    .catch(() => undefined);
  const body = found?.body ?? JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });
  ctx.cache = found ? "miss" : "hit";
  sendJson(ctx, body, { "Content-Type": OCI_INDEX });
}
