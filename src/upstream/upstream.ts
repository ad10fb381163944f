import { RegistryError } from "../errors/oci-errors.js";
import { MANIFEST_MEDIA_TYPES } from "../proxy/media-types.js";
import { type Digest, digestAlgorithm, digestOf, isDigest, parseDigest } from "../reference/reference.js";
import { UpstreamAnswerError } from "./bounded-read.js";
import {
  header,
  type RegistryClient,
  type UpstreamResponse,
  upstreamStatusError,
} from "./registry-client.js";
import { ManifestJson, parseUpstreamJson, ReferrersIndex, TagList } from "./upstream-json.js";

const ACCEPT_MANIFESTS = MANIFEST_MEDIA_TYPES.join(", ");

export interface ManifestHead {
  digest: Digest | undefined;
  mediaType: string;
  size: number;
}

export interface UpstreamManifest {
  /** Of the bytes, verified (getManifest); unset for a referrers index, which is never stored. */
  digest: Digest | undefined;
  mediaType: string;
  body: Buffer;
}

export interface BlobBody {
  totalSize: number;
  /** Starts exactly at the requested offset. */
  body: AsyncIterable<Buffer>;
}

function length(res: UpstreamResponse): number | undefined {
  const v = header(res, "content-length");
  const n = v === undefined ? Number.NaN : Number(v);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function claimedDigest(res: UpstreamResponse): Digest | undefined {
  const v = header(res, "docker-content-digest");
  if (!v) return undefined;
  try {
    return parseDigest(v);
  } catch {
    return undefined;
  }
}

function mediaType(res: UpstreamResponse): string {
  return (header(res, "content-type") ?? "").split(";")[0]?.trim() ?? "";
}

/**
 * A blob body from byte `skip` on (an upstream that ignores Range sends them all). A read that fails (cut short,
 * stalled) is the upstream's fault, not an internal error: UPSTREAM_ERROR, which the fill resumes. An abort stays
 * an abort.
 */
async function* blobBody(
  body: AsyncIterable<Buffer>,
  skip: number,
  digest: Digest,
  signal: AbortSignal | undefined,
): AsyncIterable<Buffer> {
  let left = skip;
  try {
    for await (const chunk of body) {
      if (left >= chunk.length) {
        left -= chunk.length;
        continue;
      }
      yield left > 0 ? chunk.subarray(left) : chunk;
      left = 0;
    }
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new RegistryError(
      "UPSTREAM_ERROR",
      `upstream body of ${digest} broke off: ${(err as Error).message}`,
    );
  }
}

/** The registry operations the proxy needs, on top of the raw client. */
export class Upstream {
  constructor(readonly client: RegistryClient) {}

  get registry(): string {
    return this.client.registry;
  }

  /** Runs a check of an answer; what it refuses is counted and logged. */
  private checked<T>(check: () => T): T {
    try {
      return check();
    } catch (err) {
      throw this.client.refused(err);
    }
  }

  /** HEAD is free on Docker Hub's pull quota; GET is not. */
  async headManifest(repo: string, ref: string, signal?: AbortSignal): Promise<ManifestHead> {
    const res = await this.client.request(
      "manifest",
      "HEAD",
      repo,
      `manifests/${ref}`,
      { accept: ACCEPT_MANIFESTS },
      signal,
    );
    await res.body.dump();
    if (res.status !== 200) throw upstreamStatusError(this.registry, res.status, `manifest ${repo}:${ref}`);
    return { digest: claimedDigest(res), mediaType: mediaType(res), size: length(res) ?? 0 };
  }

  /**
   * A manifest, checked before anyone sees it: at most limits.maxManifestSize, JSON with the fields the proxy
   * reads, and its bytes hash to the digest asked for (or, by tag, to the Docker-Content-Digest upstream sent).
   */
  async getManifest(
    repo: string,
    ref: string,
    signal?: AbortSignal,
  ): Promise<UpstreamManifest & { digest: Digest }> {
    const what = `manifest ${repo}${isDigest(ref) ? "@" : ":"}${ref}`;
    const res = await this.client.request(
      "manifest",
      "GET",
      repo,
      `manifests/${ref}`,
      { accept: ACCEPT_MANIFESTS },
      signal,
    );
    if (res.status !== 200) {
      await res.body.dump();
      throw upstreamStatusError(this.registry, res.status, what);
    }
    const body = await this.client.read(res, this.client.limits.maxManifestSize, what, signal);
    const claimed = isDigest(ref) ? (ref as Digest) : claimedDigest(res);
    const digest = digestOf(body, claimed ? digestAlgorithm(claimed) : undefined);
    if (claimed && claimed !== digest) {
      const why = `upstream ${what} hashes to ${digest}, not ${claimed}`;
      throw this.client.refused(new UpstreamAnswerError("mismatch", why));
    }
    this.checked(() => parseUpstreamJson(ManifestJson, body, what));
    return { digest, mediaType: mediaType(res), body };
  }

  async headBlob(repo: string, digest: Digest, signal?: AbortSignal): Promise<number> {
    const res = await this.client.request("blob", "HEAD", repo, `blobs/${digest}`, {}, signal);
    await res.body.dump();
    const size = length(res);
    if (res.status !== 200) throw upstreamStatusError(this.registry, res.status, `blob ${digest}`);
    if (size === undefined)
      throw new RegistryError("UPSTREAM_ERROR", `upstream sent no length for ${digest}`);
    return size;
  }

  /** Opens the blob at `offset`, with a Range request when resuming. Aborting `signal` fails the body too. */
  async openBlob(repo: string, digest: Digest, offset: number, signal?: AbortSignal): Promise<BlobBody> {
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const res = await this.client.request("blob", "GET", repo, `blobs/${digest}`, headers, signal);
    if (res.status === 206 && offset > 0) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header(res, "content-range") ?? "");
      if (m && Number(m[1]) === offset) {
        return { totalSize: Number(m[3]), body: blobBody(res.body, 0, digest, signal) };
      }
    } else if (res.status === 200) {
      const size = length(res);
      // An upstream that ignores Range answers 200 with the whole blob: skip what we already have.
      if (size !== undefined) return { totalSize: size, body: blobBody(res.body, offset, digest, signal) };
    }
    if (res.status === 200 || res.status === 206) {
      // Without a usable length the body could be endless: none of it is read.
      res.body.destroy();
      const why = `upstream answer for ${digest} has no usable length or range`;
      throw this.client.refused(new UpstreamAnswerError("malformed", why));
    }
    await res.body.dump();
    throw upstreamStatusError(this.registry, res.status, `blob ${digest}`);
  }

  /** The tag list as upstream sent it, once checked to be one. */
  async getTags(
    repo: string,
    query: string,
    signal?: AbortSignal,
  ): Promise<{ body: Buffer; link: string | undefined }> {
    const res = await this.client.request(
      "tags",
      "GET",
      repo,
      `tags/list${query ? `?${query}` : ""}`,
      { accept: "application/json" },
      signal,
    );
    if (res.status !== 200) {
      await res.body.dump();
      throw upstreamStatusError(this.registry, res.status, `repository ${repo}`);
    }
    const what = `tag list of ${repo}`;
    const body = await this.client.read(res, this.client.limits.maxUpstreamJsonSize, what, signal);
    this.checked(() => parseUpstreamJson(TagList, body, what));
    return { body, link: header(res, "link") };
  }

  /** The referrers index, or undefined when upstream has none or doesn't support the API. */
  async getReferrers(
    repo: string,
    digest: Digest,
    query: string,
    signal?: AbortSignal,
  ): Promise<UpstreamManifest | undefined> {
    const res = await this.client.request(
      "referrers",
      "GET",
      repo,
      `referrers/${digest}${query ? `?${query}` : ""}`,
      { accept: "application/vnd.oci.image.index.v1+json" },
      signal,
    );
    if (res.status !== 200) {
      await res.body.dump();
      return undefined;
    }
    const body = await this.client.read(res, this.client.limits.maxManifestSize, "referrers index", signal);
    // A registry without the API may answer 200 with anything; only an index is an answer.
    try {
      parseUpstreamJson(ReferrersIndex, body, "referrers index");
    } catch {
      return undefined;
    }
    return { digest: undefined, mediaType: mediaType(res), body };
  }
}
