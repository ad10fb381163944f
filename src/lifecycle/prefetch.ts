import { Limiter } from "../async/limiter.js";
import { RegistryError } from "../errors/oci-errors.js";
import type { MetadataStore } from "../metadata/store.js";
import type { Metrics } from "../metrics/metrics.js";
import { isIndex } from "../proxy/media-types.js";
import type { ProxyBlobStore } from "../proxy/proxy-blob-store.js";
import type { Manifest, ProxyManifestStore } from "../proxy/proxy-manifest-store.js";
import { type Digest, isDigest, parseDigest } from "../reference/reference.js";
import { type ManifestJson, parseManifestJson } from "../upstream/upstream-json.js";
import type { ResolvedImage } from "./lifecycle.js";
import { isAttestation, type Platform, platformMatches, platformName } from "./platforms.js";
import { type PrefetchEvent, type PrefetchSummary, PrefetchTally } from "./prefetch-events.js";

/** An index inside an index is allowed; deeper nesting is not something registries serve. */
const MAX_INDEX_DEPTH = 2;

export interface PrefetcherOptions {
  blobs: Pick<ProxyBlobStore, "get">;
  manifests: Pick<ProxyManifestStore, "byTag" | "byDigest">;
  /** Routes an operator's image reference (Lifecycle.resolve). */
  resolve: (raw: string, defaultTag: string) => ResolvedImage;
  /** Blobs downloaded at once, over every prefetch running. */
  concurrency: number;
  metrics: Metrics;
  meta: Pick<MetadataStore, "addCounters">;
}

export interface PrefetchRequest {
  images: readonly string[];
  /** Platforms of multi-platform images to fetch; all but attestations when empty. */
  platforms: readonly Platform[];
  onEvent?: (e: PrefetchEvent) => void;
  /** Stops the work: nothing new starts, the run rejects. Downloads under way finish for the cache anyway. */
  signal?: AbortSignal;
}

interface Blob {
  digest: Digest;
  size: number;
}

/** One run: its tally, its blobs by digest (an image sharing a layer with another waits for the same fetch). */
interface Run {
  tally: PrefetchTally;
  blobs: Map<Digest, Promise<void>>;
  platforms: readonly Platform[];
  signal: AbortSignal | undefined;
}

function platformOf(entry: NonNullable<ManifestJson["manifests"]>[number]): Platform | undefined {
  const p = entry.platform;
  if (!p?.os || !p.architecture) return undefined;
  return {
    os: p.os,
    architecture: p.architecture,
    variant: typeof p.variant === "string" ? p.variant : undefined,
  };
}

/** Descriptors by digest, each once (platforms share layers). */
function blobsOf(descriptors: { digest: string; size?: unknown }[]): Map<Digest, Blob> {
  const out = new Map<Digest, Blob>();
  for (const d of descriptors) {
    const digest = parseDigest(d.digest);
    out.set(digest, { digest, size: typeof d.size === "number" ? d.size : 0 });
  }
  return out;
}

/**
 * Pulls images into the cache as a client would: manifests through the proxy manifest store (so tags and links
 * are recorded as for a pull), then config and layers through the proxy blob store, drained into a counter: the
 * same shared download a client joins, never held in memory. Cached blobs cost nothing upstream, so running it
 * again resumes where an interrupted run stopped.
 */
export class Prefetcher {
  private readonly downloads: Limiter;
  /** Manifest requests at once: an image list from a file may be long. */
  private readonly lookups: Limiter;

  constructor(private readonly o: PrefetcherOptions) {
    this.downloads = new Limiter(o.concurrency);
    this.lookups = new Limiter(o.concurrency);
  }

  /** Every image is tried: one that fails is reported (an event and the summary) and the others go on. */
  async run(req: PrefetchRequest): Promise<PrefetchSummary> {
    const tally = new PrefetchTally(req.images.length, req.onEvent ?? (() => {}));
    tally.send({ type: "start", images: req.images.length, platforms: req.platforms.map(platformName) });
    const run: Run = { tally, blobs: new Map(), platforms: req.platforms, signal: req.signal };
    // image() reports its own failures: this settles once every image's work has.
    await Promise.all(req.images.map((raw) => this.image(raw.trim(), run)));
    const summary = tally.finish();
    req.signal?.throwIfAborted();
    return summary;
  }

  private async image(image: string, run: Run): Promise<void> {
    try {
      const ref = this.o.resolve(image, "latest");
      const reference = ref.reference as string;
      const root = await this.lookups.run(
        () =>
          isDigest(reference)
            ? this.o.manifests.byDigest(ref, reference as Digest)
            : this.o.manifests.byTag(ref, reference),
        run.signal,
      );
      const chosen = await this.platformManifests(ref, root, run, 0);
      const configs = blobsOf(chosen.flatMap((m) => (m.json.config ? [m.json.config] : [])));
      const layers = blobsOf(chosen.flatMap((m) => m.json.layers ?? []));
      const blobs = [...new Map([...configs, ...layers]).values()];
      run.tally.send({
        type: "image",
        image,
        digest: root.digest,
        platforms: chosen.flatMap((m) => (m.platform ? [platformName(m.platform)] : [])),
        // A single image manifest names no platform: only an index can lack one.
        missing: isIndex(root.mediaType)
          ? run.platforms
              .filter((w) => !chosen.some((m) => m.platform && platformMatches(w, m.platform)))
              .map(platformName)
          : [],
        layers: layers.size,
        blobs: blobs.length,
        bytes: blobs.reduce((n, b) => n + b.size, 0),
      });
      // Every blob settles before the image is reported: nothing of it runs on after the run's summary.
      const settled = await Promise.allSettled(blobs.map((b) => this.blob(ref, b, image, run)));
      const failed = settled.find((s) => s.status === "rejected");
      if (failed) throw failed.reason;
      run.tally.imageDone(image);
    } catch (err) {
      if (run.signal?.aborted) return;
      run.tally.imageFailed(image, (err as Error).message);
    }
  }

  /** The image manifests to fetch: the root itself, or an index's children of the platforms asked for. */
  private async platformManifests(
    ref: ResolvedImage,
    m: Manifest,
    run: Run,
    depth: number,
  ): Promise<{ platform?: Platform | undefined; json: ManifestJson }[]> {
    const json = parseManifestJson(m.body);
    if (!isIndex(m.mediaType)) return [{ json }];
    if (depth >= MAX_INDEX_DEPTH)
      throw new RegistryError("MANIFEST_INVALID", "an index nested in an index nested in an index");
    const entries = (json.manifests ?? []).map((e) => ({
      digest: parseDigest(e.digest),
      platform: platformOf(e),
    }));
    // Attestations (provenance, SBOM) are no use to a pull; fetched only when asked for as unknown/unknown.
    const chosen = entries.filter(({ platform: p }) =>
      run.platforms.length === 0
        ? !p || !isAttestation(p)
        : p && run.platforms.some((w) => platformMatches(w, p)),
    );
    if (chosen.length === 0) {
      const has = entries.flatMap((e) => (e.platform ? [platformName(e.platform)] : [])).join(", ");
      throw new RegistryError(
        "MANIFEST_UNKNOWN",
        `no manifest for ${run.platforms.map(platformName).join(", ") || "any platform"} (the index has ${has || "none"})`,
      );
    }
    const children = await Promise.all(
      chosen.map(async (e) => {
        const child = await this.lookups.run(() => this.o.manifests.byDigest(ref, e.digest), run.signal);
        const inner = await this.platformManifests(ref, child, run, depth + 1);
        return inner.map((c) => ({ platform: c.platform ?? e.platform, json: c.json }));
      }),
    );
    return children.flat();
  }

  /** A blob, once per run: cached ones are only touched (a use, for LRU); the others drained from the fill. */
  private blob(ref: ResolvedImage, b: Blob, image: string, run: Run): Promise<void> {
    let task = run.blobs.get(b.digest);
    if (!task) {
      run.tally.expect(1, b.size);
      task = this.downloads.run(() => this.fetch(ref, b, image, run), run.signal);
      run.blobs.set(b.digest, task);
    }
    return task;
  }

  private async fetch(ref: ResolvedImage, b: Blob, image: string, run: Run): Promise<void> {
    try {
      await this.drain(ref, b, image, run);
    } catch (err) {
      throw new Error(`blob ${b.digest}: ${(err as Error).message}`);
    }
  }

  private async drain(ref: ResolvedImage, b: Blob, image: string, run: Run): Promise<void> {
    const { tally, signal } = run;
    const handle = await this.o.blobs.get(ref, b.digest, false);
    const cached = handle.result === "hit";
    if (handle.size !== b.size) tally.expect(0, handle.size - b.size);
    tally.send({ type: "blob-start", image, digest: b.digest, size: handle.size, cached });
    if (!cached) {
      await handle.send({
        start: 0,
        length: handle.size,
        begin: () => {},
        sink: async (chunk) => {
          // Only this reader stops: the download itself goes on into the cache.
          signal?.throwIfAborted();
          tally.bytes(chunk.length);
        },
      });
      this.o.metrics.prefetchBytes.inc(handle.size);
      this.o.meta.addCounters({ prefetch_bytes: handle.size, prefetch_blobs: 1 });
    }
    tally.blobDone(handle.size, cached);
    tally.send({ type: "blob-done", image, digest: b.digest, size: handle.size, cached });
  }
}
