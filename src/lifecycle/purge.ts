import { RegistryError } from "../errors/oci-errors.js";
import type { Logger } from "../log/logger.js";
import type { ContentKind, MetadataStore, RepoKey } from "../metadata/store.js";
import type { RepoLinks } from "../proxy/repo-links.js";
import { type Digest, isDigest } from "../reference/reference.js";
import type { InUse } from "./in-use.js";
import type { Pins } from "./pins.js";
import { type Doomed, type Kept, removableTopDown, removeInOrder } from "./removal-set.js";
import type { ContentRemover } from "./remover.js";

export interface PurgeReport {
  /** What was purged: `registry/repository`, with `:tag` or `@digest` unless the whole repository. */
  image: string;
  scope: "repository" | "tag" | "digest";
  /** Tags dropped, as `registry/repository:tag`. */
  tags: string[];
  removed: { digest: Digest; kind: ContentKind; size: number; why: string }[];
  /** Stored content of the image that stays, and why (another image uses it, pinned, in use…). */
  kept: Kept[];
  freedBytes: number;
}

export interface PurgeOptions {
  meta: MetadataStore;
  remover: ContentRemover;
  inUse: InUse;
  pins: Pins;
  links: Pick<RepoLinks, "forgetRepository">;
  /** Runs the purge when no GC or other purge runs. */
  exclusive: <T>(work: () => Promise<T>) => Promise<T>;
  log: Logger;
}

const repoName = (k: RepoKey) => `${k.registry}/${k.repo}`;

/**
 * `hubmirror purge`: drops a tag (or a digest's tags) or a whole repository, then the content that this leaves
 * unused. Content is shared by digest between repositories (base layers!), so content stays when another
 * repository is linked to it, another tag names it, a manifest that stays references it, or it is pinned.
 */
export class Purger {
  constructor(private readonly o: PurgeOptions) {}

  /** `reference` (a tag or digest) undefined purges the whole repository. */
  purge(key: RepoKey, reference: string | undefined): Promise<PurgeReport> {
    return this.o.exclusive(() =>
      reference === undefined ? this.repository(key) : this.reference(key, reference),
    );
  }

  private async reference(key: RepoKey, reference: string): Promise<PurgeReport> {
    const { meta } = this.o;
    const digest = isDigest(reference);
    const image = `${repoName(key)}${digest ? "@" : ":"}${reference}`;
    const root = digest ? (reference as Digest) : (await meta.getTag(key, reference))?.digest;
    const tags = (await meta.tagRefs(key)).filter((t) => (digest ? t.digest === root : t.tag === reference));
    if (!root || (tags.length === 0 && !(await meta.getBlob(root)))) {
      throw new RegistryError("NOT_FOUND", `${image} is not in the cache`);
    }
    await this.refusePinned(key, image, (p) => p.reference === reference || p.reference === root);
    const protect = await this.o.pins.closure();
    for (const t of tags) await meta.deleteTag(key, t.tag);
    // The manifest and everything it references, child manifests of an index included.
    const closure: Digest[] = [];
    for (const queue = [root]; queue.length > 0; ) {
      const d = queue.shift() as Digest;
      if (closure.includes(d)) continue;
      closure.push(d);
      queue.push(...(await meta.manifestChildren(d)));
    }
    return this.removeUnused(key, image, digest ? "digest" : "tag", tags, closure, protect);
  }

  private async repository(key: RepoKey): Promise<PurgeReport> {
    const image = repoName(key);
    await this.refusePinned(key, image, () => true);
    const protect = await this.o.pins.closure();
    const tags = await this.o.meta.tagRefs(key);
    const linked = await this.o.meta.deleteRepository(key);
    this.o.links.forgetRepository(key);
    if (tags.length === 0 && linked.length === 0) {
      throw new RegistryError("NOT_FOUND", `${image} is not in the cache`);
    }
    return this.removeUnused(key, image, "repository", tags, linked, protect);
  }

  /** Pinned images are never purged: the operator unpins them first. */
  private async refusePinned(
    key: RepoKey,
    image: string,
    matches: (pin: { reference: string }) => boolean,
  ): Promise<void> {
    const pinned = (await this.o.pins.list()).filter(
      (p) => p.registry === key.registry && p.repo === key.repo && matches(p),
    );
    if (pinned.length === 0) return;
    const names = pinned.map((p) => `${p.reference} [${p.source}]`).join(", ");
    throw new RegistryError("DENIED", `${image} is pinned (${names}): unpin it first`);
  }

  /** Removes what of `digests` nothing else uses, after the image's tags (and links) were dropped. */
  private async removeUnused(
    key: RepoKey,
    image: string,
    scope: PurgeReport["scope"],
    tags: { tag: string }[],
    digests: readonly Digest[],
    protect: ReadonlySet<Digest>,
  ): Promise<PurgeReport> {
    const candidates = new Map<Digest, Doomed>();
    const kept: Kept[] = [];
    for (const digest of digests) {
      const rec = await this.o.meta.getBlob(digest);
      if (!rec) continue;
      const why = protect.has(digest) ? "pinned" : await this.usedElsewhere(key, digest);
      if (why) kept.push({ digest, why });
      else candidates.set(digest, { rec, why: `used only by ${image}` });
    }
    const { ordered, kept: referenced } = await removableTopDown(candidates, (d) =>
      this.o.meta.manifestParents(d),
    );
    const { removed, skipped } = await removeInOrder(this.o, ordered, "purge", async (rec) =>
      this.usedElsewhere(key, rec.digest),
    );
    const report: PurgeReport = {
      image,
      scope,
      tags: tags.map((t) => `${repoName(key)}:${t.tag}`),
      removed: removed.map(({ rec, why }) => ({ digest: rec.digest, kind: rec.kind, size: rec.size, why })),
      kept: [...kept, ...referenced, ...skipped],
      freedBytes: removed.reduce((n, r) => n + r.rec.size, 0),
    };
    this.o.log.info(
      {
        image,
        tags: report.tags.length,
        removed: removed.length,
        kept: report.kept.length,
        bytes: report.freedBytes,
      },
      "purged",
    );
    return report;
  }

  /** Why content of the purged image stays: in use, tagged, or linked to another repository; else undefined. */
  private async usedElsewhere(key: RepoKey, digest: Digest): Promise<string | undefined> {
    if (this.o.inUse.has(digest)) return "in use";
    const [tag] = await this.o.meta.tagsOf(digest);
    if (tag) return `tagged as ${repoName(tag)}:${tag.tag}`;
    const other = (await this.o.meta.linkedRepositories(digest)).find(
      (r) => r.registry !== key.registry || r.repo !== key.repo,
    );
    return other && `used by ${repoName(other)}`;
  }
}
