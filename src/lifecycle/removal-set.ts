import type { BlobRecord, MetadataStore } from "../metadata/store.js";
import type { Digest } from "../reference/reference.js";
import type { InUse } from "./in-use.js";
import type { ContentRemover, RemovalReason } from "./remover.js";

/** Stored content that GC or purge means to remove, and why. */
export interface Doomed {
  rec: BlobRecord;
  why: string;
}

export interface Kept {
  digest: Digest;
  why: string;
}

/**
 * The candidates that can go without breaking what stays: each must have every stored manifest that references it
 * among the candidates too (to a fixpoint: dropping one may drop its children). Returned parents first, the order
 * they are removed in, so a reader never finds a manifest whose content went first.
 */
export async function removableTopDown(
  candidates: ReadonlyMap<Digest, Doomed>,
  parentsOf: (digest: Digest) => Promise<Digest[]>,
): Promise<{ ordered: Doomed[]; kept: Kept[] }> {
  const parents = new Map<Digest, Digest[]>();
  for (const d of candidates.keys()) parents.set(d, await parentsOf(d));
  const kept = new Map<Digest, string>();
  for (let changed = true; changed; ) {
    changed = false;
    for (const [d, ps] of parents) {
      if (kept.has(d)) continue;
      const live = ps.find((p) => !parents.has(p) || kept.has(p));
      if (live === undefined) continue;
      kept.set(d, `referenced by stored manifest ${live}`);
      changed = true;
    }
  }
  const ordered: Doomed[] = [];
  const placed = new Set<Digest>();
  let rest = [...parents.keys()].filter((d) => !kept.has(d));
  while (rest.length > 0) {
    const next = rest.filter((d) => (parents.get(d) as Digest[]).every((p) => placed.has(p)));
    // Content addressing rules out cycles; should an index claim one, its members stay.
    if (next.length === 0) break;
    for (const d of next) {
      placed.add(d);
      ordered.push(candidates.get(d) as Doomed);
    }
    rest = rest.filter((d) => !placed.has(d));
  }
  for (const d of rest) kept.set(d, "part of a reference cycle");
  return { ordered, kept: [...kept].map(([digest, why]) => ({ digest, why })) };
}

export interface RemoveDeps {
  remover: ContentRemover;
  meta: Pick<MetadataStore, "getBlob" | "manifestParents" | "tagsOf">;
  inUse: InUse;
}

/**
 * Removes planned content in its order, each right after checking again that it is still garbage: not in use,
 * no stored manifest references it (one that was skipped, or one a pull stored since the plan), no tag names it,
 * and whatever `stillGarbage` checks; it returns why not, or undefined. Skipped content is reported, not removed.
 */
export async function removeInOrder(
  deps: RemoveDeps,
  planned: readonly Doomed[],
  reason: RemovalReason,
  stillGarbage: (rec: BlobRecord, planned: Doomed) => Promise<string | undefined>,
  signal?: AbortSignal,
): Promise<{ removed: Doomed[]; skipped: Kept[] }> {
  const removed: Doomed[] = [];
  const skipped: Kept[] = [];
  try {
    for (const item of planned) {
      if (signal?.aborted) break;
      const why = await whyKeep(deps, item, stillGarbage);
      if (why) skipped.push({ digest: item.rec.digest, why });
      else {
        await deps.remover.removeOne(item.rec);
        removed.push(item);
      }
    }
  } finally {
    deps.remover.count(
      removed.map((r) => r.rec),
      reason,
    );
  }
  return { removed, skipped };
}

async function whyKeep(
  { meta, inUse }: RemoveDeps,
  item: Doomed,
  stillGarbage: (rec: BlobRecord, planned: Doomed) => Promise<string | undefined>,
): Promise<string | undefined> {
  const { digest } = item.rec;
  if (inUse.has(digest)) return "in use";
  const rec = await meta.getBlob(digest);
  if (!rec) return "no longer stored";
  const [parent] = await meta.manifestParents(digest);
  if (parent) return `referenced by stored manifest ${parent}`;
  if (rec.kind === "manifest") {
    const [tag] = await meta.tagsOf(digest);
    if (tag) return `tagged as ${tag.registry}/${tag.repo}:${tag.tag}`;
  }
  return stillGarbage(rec, item);
}
