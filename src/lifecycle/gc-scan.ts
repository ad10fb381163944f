import type { MetadataStore } from "../metadata/store.js";
import { referencesOf } from "../proxy/manifest-references.js";
import { type Digest, parseDigest } from "../reference/reference.js";
import { PathNotFoundError, type StorageDriver } from "../storage/driver.js";
import type { LocalBlobStore } from "../store/blob-store.js";
import { blobPath } from "../store/layout.js";
import { parseManifestJson } from "../upstream/upstream-json.js";

/** What the backfill learnt: references of manifests stored by an earlier version, which never recorded them. */
export interface Backfill {
  /** child → manifests that reference it, among the backfilled ones. */
  parents: Map<Digest, Digest[]>;
  /** manifest → what it references. */
  children: Map<Digest, Digest[]>;
  /** Stored manifests whose bytes could not be read or parsed: what they reference is unknown. */
  unreadable: Digest[];
}

/**
 * Reads the references of every stored manifest that has none recorded and, when `write`, records them; a dry
 * run keeps them in memory only, so it changes nothing yet judges references as the real run will.
 */
export async function backfillRefs(
  meta: Pick<MetadataStore, "manifestsWithoutRefs" | "putManifestRefs">,
  store: Pick<LocalBlobStore, "get">,
  write: boolean,
): Promise<Backfill> {
  const out: Backfill = { parents: new Map(), children: new Map(), unreadable: [] };
  // One pass over them all: a dry run writes nothing, so paging would see the same page again.
  for (const digest of await meta.manifestsWithoutRefs(Number.MAX_SAFE_INTEGER)) {
    let refs: Digest[];
    try {
      refs = referencesOf(parseManifestJson(await store.get(digest)));
    } catch {
      out.unreadable.push(digest);
      continue;
    }
    if (write) await meta.putManifestRefs(digest, refs);
    out.children.set(digest, refs);
    for (const r of refs) out.parents.set(r, [...(out.parents.get(r) ?? []), digest]);
  }
  return out;
}

/** A content file the index does not name. */
export interface OrphanFile {
  digest: Digest;
  path: string;
  size: number;
  modTime: number;
}

async function children(storage: StorageDriver, path: string): Promise<string[]> {
  return storage.list(path).catch((err: unknown) => {
    if (err instanceof PathNotFoundError) return [];
    throw err;
  });
}

/** The digest whose content lives in `dir` (`/blobs/<algorithm>/<fan-out>/<hex>`), if the layout puts it there. */
function digestOf(dir: string): Digest | undefined {
  const m = /^\/blobs\/([^/]+)\/[^/]+\/([^/]+)$/.exec(dir);
  try {
    const digest = m ? parseDigest(`${m[1]}:${m[2]}`) : undefined;
    return digest && blobPath(digest) === `${dir}/data` ? digest : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Content files under /blobs/ (see store/layout.ts) that the index does not name and nobody wrote since
 * `before`: a crash between a commit and its index write leaves these. Younger ones may be a commit whose index
 * write is under way, or one that LocalBlobStore.recover adopts on the next miss.
 */
export async function orphanFiles(
  storage: StorageDriver,
  index: Pick<MetadataStore, "getBlob">,
  before: number,
): Promise<OrphanFile[]> {
  const out: OrphanFile[] = [];
  for (const algorithm of await children(storage, "/blobs")) {
    for (const fanout of await children(storage, algorithm)) {
      for (const dir of await children(storage, fanout)) {
        const digest = digestOf(dir);
        if (!digest || (await index.getBlob(digest))) continue;
        const orphan = await orphanFile(storage, index, digest, before);
        if (orphan) out.push(orphan);
      }
    }
  }
  return out;
}

/** The content file of `digest` when it is an orphan written before `before`, else undefined. */
export async function orphanFile(
  storage: StorageDriver,
  index: Pick<MetadataStore, "getBlob">,
  digest: Digest,
  before: number,
): Promise<OrphanFile | undefined> {
  const path = blobPath(digest);
  const st = await storage.stat(path);
  if (!st || st.isDir || st.modTime.getTime() >= before || (await index.getBlob(digest))) return undefined;
  return { digest, path, size: st.size, modTime: st.modTime.getTime() };
}
