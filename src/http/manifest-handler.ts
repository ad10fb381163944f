import { RegistryError } from "../errors/oci-errors.js";
import { isIndex } from "../proxy/media-types.js";
import type { Manifest } from "../proxy/proxy-manifest-store.js";
import type { RepoRef } from "../proxy/repo-links.js";
import { type Digest, isDigest, parseDigest, parseTag } from "../reference/reference.js";
import { parseManifestJson } from "../upstream/upstream-json.js";
import { accepts, parseAccept } from "./accept.js";
import type { RepoContext, Services } from "./context.js";
import { STALE_WARNING } from "./respond.js";

/**
 * A client that can't take an index (an old docker, say) gets the linux/amd64 image from it, as Docker Hub does;
 * any other type it doesn't accept is MANIFEST_UNKNOWN.
 */
async function negotiate(s: Services, repo: RepoRef, m: Manifest, accepted: Set<string>): Promise<Manifest> {
  if (accepts(accepted, m.mediaType)) return m;
  if (isIndex(m.mediaType)) {
    const entries = parseManifestJson(m.body).manifests ?? [];
    const amd64 = entries.find((e) => e.platform?.os === "linux" && e.platform.architecture === "amd64");
    if (amd64?.digest && accepts(accepted, amd64.mediaType ?? "")) {
      return s.manifests.byDigest(repo, parseDigest(amd64.digest));
    }
  }
  throw new RegistryError("MANIFEST_UNKNOWN", `manifest is ${m.mediaType}, which the client does not accept`);
}

/** GET/HEAD /v2/<name>/manifests/<tag|digest>. */
export async function handleManifest(s: Services, ctx: RepoContext): Promise<void> {
  const { ref } = ctx;
  let m: Manifest;
  if (isDigest(ref)) {
    m = await s.manifests.byDigest(ctx, parseDigest(ref));
  } else {
    const tagged = await s.manifests.byTag(ctx, parseTag(ref));
    m = await negotiate(s, ctx, tagged, parseAccept(ctx.req.headers.accept));
    if (tagged.result === "stale") m = { ...m, result: "stale" };
  }
  ctx.cache = m.result;
  ctx.pull = !ctx.head && !isIndex(m.mediaType);
  s.metrics.cacheRequests.inc({ kind: "manifest", result: m.result });
  const headers: Record<string, string | number> = {
    "Content-Type": m.mediaType,
    "Docker-Content-Digest": m.digest as Digest,
    "Content-Length": m.body.length,
    ETag: `"${m.digest}"`,
  };
  if (m.result === "stale") headers.Warning = STALE_WARNING;
  ctx.res.writeHead(200, headers);
  if (ctx.head) {
    ctx.res.end();
    return;
  }
  s.metrics.servedBytes.inc({ kind: "manifest", registry: ctx.key.registry }, m.body.length);
  ctx.res.end(m.body);
}
