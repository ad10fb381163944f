import type { BlobRecord, MetadataStore, RepoKey } from "../metadata/store.js";
import type { ProxyBlobStore } from "../proxy/proxy-blob-store.js";
import type { ProxyManifestStore } from "../proxy/proxy-manifest-store.js";
import type { LocalBlobStore } from "../store/blob-store.js";
import type { UpstreamSet } from "../upstream/upstreams.js";
import type { InUse } from "./in-use.js";
import type { ContentRemover } from "./remover.js";

/** What repair did with a corrupt or missing object. */
export type RepairOutcome =
  /** Removed, fetched again from `from` (registry/repository), and its bytes hash right. */
  | { repair: "repaired"; from: string }
  /** Removed, but not stored again; `error` says why (upstream's answer, no repository to ask). */
  | { repair: "failed"; error: string }
  /** Left as it is: a client is downloading or being served it. */
  | { repair: "in-use" };

/** Fetches content again from upstream under one repository, into the store. */
export type Refetch = (rec: BlobRecord, repo: RepoKey) => Promise<void>;

/** Refetch through the proxy stores, as a client's pull would: one shared download per digest, verified. */
export function refetchFromUpstream(
  upstreams: Pick<UpstreamSet, "resolve">,
  blobs: Pick<ProxyBlobStore, "get">,
  manifests: Pick<ProxyManifestStore, "byDigest">,
): Refetch {
  return async (rec, { registry, repo }) => {
    const routed = upstreams.resolve(registry, undefined, repo);
    if (rec.kind === "manifest") {
      await manifests.byDigest(routed, rec.digest);
      return;
    }
    // The download runs to its commit without a reader.
    await (await blobs.get(routed, rec.digest, false)).stored;
  };
}

export interface RepairerOptions {
  store: Pick<LocalBlobStore, "hash">;
  meta: Pick<MetadataStore, "linkedRepositories">;
  inUse: Pick<InUse, "has">;
  remover: Pick<ContentRemover, "removeOne" | "count">;
  refetch: Refetch;
}

/**
 * Replaces a corrupt or missing object with a good copy: removes it (index entry, bytes, and for a manifest its
 * record and the tags naming it, which the next pull of the tag fetches again), then fetches it from upstream
 * under a repository linked to it. Removal comes first and stays even when the fetch fails: bad bytes must not be
 * served, and a pull fetches missing content anyway.
 */
export class Repairer {
  constructor(private readonly o: RepairerOptions) {}

  async repair(rec: BlobRecord): Promise<RepairOutcome> {
    if (this.o.inUse.has(rec.digest)) return { repair: "in-use" };
    const repos = await this.o.meta.linkedRepositories(rec.digest);
    await this.o.remover.removeOne(rec);
    this.o.remover.count([rec], "repair");
    if (repos.length === 0)
      return { repair: "failed", error: "no repository links it: nowhere to fetch it from" };
    const errors: string[] = [];
    for (const repo of repos) {
      const from = `${repo.registry}/${repo.repo}`;
      try {
        await this.o.refetch(rec, repo);
        const found = await this.o.store.hash(rec.digest);
        if (found?.digest === rec.digest) return { repair: "repaired", from };
        errors.push(`${from}: ${found ? `stored bytes hash to ${found.digest}` : "fetched but not stored"}`);
      } catch (err) {
        errors.push(`${from}: ${(err as Error).message}`);
      }
    }
    return { repair: "failed", error: errors.join("; ") };
  }
}
