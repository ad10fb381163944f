import { rm } from "node:fs/promises";
import type { MetadataStore, TagRef } from "../metadata/store.js";
import type { Digest } from "../reference/reference.js";
import { PathNotFoundError, type StorageDriver } from "../storage/driver.js";
import { STALE_UPLOAD_MS } from "../storage/fs-driver.js";
import { staleTempFile, staleTempFiles } from "../storage/temp-files.js";
import { orphanFile, orphanFiles } from "./gc-scan.js";
import type { InUse } from "./in-use.js";

/**
 * What GC frees: content no repository links (`unlinked`) or no stored manifest references (`unreferenced`),
 * content files the index does not name (`orphan-file`), abandoned temp files (`temp-file`), and index rows naming
 * what is not stored (`stale-tag`, `stale-manifest`).
 */
export const GC_KINDS = [
  "unlinked",
  "unreferenced",
  "orphan-file",
  "temp-file",
  "stale-tag",
  "stale-manifest",
] as const;
export type GcKind = (typeof GC_KINDS)[number];

export interface GcItem {
  kind: GcKind;
  /** The content (or, for a stale tag, the missing manifest it names). */
  digest?: Digest;
  /** An orphan file's storage path, or a temp file's local path. */
  path?: string;
  /** A stale tag, as `registry/repository:tag`. */
  tag?: string;
  size: number;
  why: string;
}

/** One planned removal besides content: checked again right before it is done. */
export interface GcStep {
  item: GcItem;
  /** Why it is not garbage any more, or undefined. */
  check(): Promise<string | undefined>;
  remove(): Promise<void>;
}

export interface CleanupDeps {
  meta: MetadataStore;
  storage: StorageDriver;
  inUse: InUse;
  tempDirs: readonly string[];
}

/** Orphan content files older than `cutoff`, abandoned temp files and stale index rows, as steps. */
export async function cleanupSteps(deps: CleanupDeps, cutoff: number): Promise<GcStep[]> {
  const { meta, storage, inUse } = deps;
  const steps: GcStep[] = [];
  for (const f of await orphanFiles(storage, meta, cutoff)) {
    if (inUse.has(f.digest)) continue;
    steps.push({
      item: {
        kind: "orphan-file",
        digest: f.digest,
        path: f.path,
        size: f.size,
        why: `content file the index does not name, written ${new Date(f.modTime).toISOString()}`,
      },
      check: async () => {
        if (inUse.has(f.digest)) return "in use";
        const still = await orphanFile(storage, meta, f.digest, cutoff);
        return still ? undefined : "indexed or rewritten since the plan";
      },
      remove: () =>
        storage.delete(f.path).catch((err: unknown) => {
          if (!(err instanceof PathNotFoundError)) throw err;
        }),
    });
  }
  for (const dir of deps.tempDirs) {
    // `true`: this process is serving, so its own temp files are live writes.
    for (const t of await staleTempFiles(dir, STALE_UPLOAD_MS, true)) {
      steps.push({
        item: { kind: "temp-file", path: t.path, size: t.size, why: t.why },
        check: async () =>
          (await staleTempFile(t.path, STALE_UPLOAD_MS, true)) ? undefined : "written since",
        remove: () => rm(t.path, { recursive: true, force: true }),
      });
    }
  }
  const stale = await meta.staleRows();
  for (const t of stale.tags) steps.push(staleTagStep(meta, t));
  for (const digest of stale.manifests) {
    steps.push({
      item: { kind: "stale-manifest", digest, size: 0, why: "manifest record without stored content" },
      check: async () => ((await meta.getBlob(digest)) ? "stored again" : undefined),
      remove: () => meta.deleteManifest(digest),
    });
  }
  return steps;
}

function staleTagStep(meta: MetadataStore, t: TagRef): GcStep {
  return {
    item: {
      kind: "stale-tag",
      tag: `${t.registry}/${t.repo}:${t.tag}`,
      digest: t.digest,
      size: 0,
      why: "names a manifest that is not stored",
    },
    check: async () => {
      const now = await meta.getTag(t, t.tag);
      if (now?.digest !== t.digest) return "changed since the plan";
      return (await meta.getBlob(t.digest)) ? "its manifest is stored again" : undefined;
    },
    remove: () => meta.deleteTag(t, t.tag),
  };
}
