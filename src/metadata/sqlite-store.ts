import Database from "better-sqlite3";
import type { Digest } from "../reference/reference.js";
import { migrate, prepareStatements, type Row, SCHEMA } from "./sqlite-schema.js";
import { SqliteUsage } from "./sqlite-usage.js";
import { SqliteUsers } from "./sqlite-users.js";
import type {
  BlobRecord,
  CacheUsage,
  ContentKind,
  ImageUsage,
  Location,
  ManifestRecord,
  MetadataStore,
  OffloadPolicy,
  OffloadStatus,
  Pin,
  RepoKey,
  TagRecord,
  TagRef,
  UpstreamStatus,
  UsageBucket,
  UsageFigures,
  UsageGrain,
} from "./store.js";

/** The embedded metadata store. better-sqlite3 is synchronous and fast; WAL keeps readers off the writer's way. */
export class SqliteStore implements MetadataStore {
  private readonly db: Database.Database;
  readonly users: SqliteUsers;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  /** Uses not yet written: the latest time and how many. */
  private readonly accesses = new Map<string, { at: number; count: number }>();
  private readonly counterDeltas = new Map<string, number>();
  /** Tag resolutions not yet written, by registry, repository and tag (NUL-separated). */
  private readonly tagPulls = new Map<string, number>();
  private readonly usage: SqliteUsage;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    migrate(this.db);
    this.stmt = prepareStatements(this.db);
    this.usage = new SqliteUsage(this.db);
    this.users = new SqliteUsers(this.db);
  }

  async getTag({ registry, repo }: RepoKey, tag: string): Promise<TagRecord | undefined> {
    const row = this.stmt.getTag.get(registry, repo, tag) as Row | undefined;
    return row && { digest: row.digest as Digest, checkedAt: row.checked_at as number };
  }

  async putTag({ registry, repo }: RepoKey, tag: string, digest: Digest, checkedAt: number): Promise<void> {
    this.stmt.putTag.run(registry, repo, tag, digest, checkedAt, checkedAt);
  }

  async touchTag({ registry, repo }: RepoKey, tag: string, checkedAt: number): Promise<void> {
    this.stmt.touchTag.run(checkedAt, registry, repo, tag);
  }

  async listTags({ registry, repo }: RepoKey): Promise<string[]> {
    return (this.stmt.listTags.all(registry, repo) as Row[]).map((r) => r.tag as string);
  }

  async getManifest(digest: Digest): Promise<ManifestRecord | undefined> {
    const row = this.stmt.getManifest.get(digest) as Row | undefined;
    return row && { digest, mediaType: row.media_type as string, size: row.size as number };
  }

  async putManifest(m: ManifestRecord): Promise<void> {
    this.stmt.putManifest.run(m.digest, m.mediaType, m.size);
  }

  async getBlob(digest: Digest): Promise<BlobRecord | undefined> {
    const row = this.stmt.getBlob.get(digest) as Row | undefined;
    if (!row) return undefined;
    const pending = this.accesses.get(digest);
    const rec = blobRecord({ ...row, digest });
    rec.lastAccess = Math.max(rec.lastAccess, pending?.at ?? 0);
    rec.requests += pending?.count ?? 0;
    return rec;
  }

  async putBlob(digest: Digest, size: number, kind: ContentKind): Promise<void> {
    const now = Date.now();
    this.db.transaction(() => {
      this.stmt.putBlob.run(digest, size, now, now, kind);
      this.stmt.clearFailure.run(digest);
    })();
  }

  async setLocation(digest: Digest, location: Location): Promise<void> {
    this.db.transaction(() => {
      this.stmt.setLocation.run(location, digest);
      this.stmt.clearFailure.run(digest);
    })();
  }

  async offloadCandidates(
    { minSize, minRequests }: OffloadPolicy,
    now: number,
    limit: number,
  ): Promise<{ digest: Digest; size: number }[]> {
    return this.stmt.offloadCandidates.all(minSize, minRequests, now, limit) as {
      digest: Digest;
      size: number;
    }[];
  }

  async offloadFailed(digest: Digest, error: string, retryAt: (attempts: number) => number): Promise<void> {
    this.db.transaction(() => {
      const row = this.stmt.getFailure.get(digest) as { attempts: number } | undefined;
      const attempts = (row?.attempts ?? 0) + 1;
      this.stmt.putFailure.run(digest, attempts, error.slice(0, 500), retryAt(attempts));
    })();
  }

  async offloadStatus({ minSize, minRequests }: OffloadPolicy): Promise<OffloadStatus> {
    const out: OffloadStatus = {
      synced: { count: 0, bytes: 0 },
      pending: { count: 0, bytes: 0 },
      failed: { count: 0, bytes: 0 },
    };
    for (const r of this.stmt.offloadStatus.all(minSize, minRequests) as Row[]) {
      out[r.state as keyof OffloadStatus] = { count: r.count as number, bytes: r.bytes as number };
    }
    return out;
  }

  async deleteBlob(digest: Digest): Promise<void> {
    this.db.transaction(() => {
      this.stmt.deleteBlob.run(digest);
      this.stmt.clearFailure.run(digest);
    })();
    this.accesses.delete(digest);
  }

  async link({ registry, repo }: RepoKey, digests: readonly Digest[]): Promise<void> {
    this.db.transaction(() => {
      this.stmt.putRepo.run(registry, repo, Date.now());
      for (const d of digests) this.stmt.linkBlob.run(registry, repo, d);
    })();
  }

  async isLinked({ registry, repo }: RepoKey, digest: Digest): Promise<boolean> {
    return this.stmt.isLinked.get(registry, repo, digest) !== undefined;
  }

  recordAccess(digest: Digest, at: number): void {
    const a = this.accesses.get(digest);
    if (a) {
      a.at = Math.max(a.at, at);
      a.count++;
    } else {
      this.accesses.set(digest, { at, count: 1 });
    }
  }

  async listRepositories(registry: string, n: number, last: string | undefined): Promise<string[]> {
    return (this.stmt.listRepos.all(registry, last ?? "", n) as Row[]).map((r) => r.name as string);
  }

  async putTagList({ registry, repo }: RepoKey, query: string, body: Buffer): Promise<void> {
    this.stmt.putTagList.run(registry, repo, query, body, Date.now());
  }

  async getTagList({ registry, repo }: RepoKey, query: string): Promise<Buffer | undefined> {
    return (this.stmt.getTagList.get(registry, repo, query) as Row | undefined)?.body as Buffer | undefined;
  }

  async setUpstreamStatus(s: UpstreamStatus): Promise<void> {
    this.stmt.setUpstream.run(
      s.registry,
      s.rateLimitLimit ?? null,
      s.rateLimitRemaining ?? null,
      s.updatedAt,
    );
  }

  async getUpstreamStatus(registry: string): Promise<UpstreamStatus | undefined> {
    const row = this.stmt.getUpstream.get(registry) as Row | undefined;
    return (
      row && {
        registry,
        rateLimitLimit: (row.ratelimit_limit as number | null) ?? undefined,
        rateLimitRemaining: (row.ratelimit_remaining as number | null) ?? undefined,
        updatedAt: row.updated_at as number,
      }
    );
  }

  addCounters(deltas: Record<string, number>): void {
    for (const [name, v] of Object.entries(deltas)) {
      this.counterDeltas.set(name, (this.counterDeltas.get(name) ?? 0) + v);
    }
  }

  async getCounters(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const r of this.stmt.getCounters.all() as Row[]) out[r.name as string] = r.value as number;
    for (const [name, v] of this.counterDeltas) out[name] = (out[name] ?? 0) + v;
    return out;
  }

  async flush(): Promise<void> {
    const idle = this.accesses.size === 0 && this.counterDeltas.size === 0 && this.tagPulls.size === 0;
    if (idle && !this.users.pending) return;
    this.db.transaction(() => {
      this.users.flush();
      for (const [digest, a] of this.accesses) this.stmt.touchBlob.run(a.at, a.count, digest);
      for (const [name, v] of this.counterDeltas) this.stmt.addCounter.run(name, v);
      for (const [k, at] of this.tagPulls) this.stmt.touchTagPull.run(at, ...k.split("\0"));
    })();
    this.accesses.clear();
    this.counterDeltas.clear();
    this.tagPulls.clear();
  }

  async cacheUsage(): Promise<CacheUsage> {
    const out: CacheUsage = {
      blobs: { count: 0, bytes: 0 },
      manifests: { count: 0, bytes: 0 },
      oldestAccess: undefined,
    };
    for (const r of this.stmt.usage.all() as Row[]) {
      out[r.kind === "manifest" ? "manifests" : "blobs"] = {
        count: r.count as number,
        bytes: r.bytes as number,
      };
      const oldest = r.oldest as number;
      out.oldestAccess = Math.min(out.oldestAccess ?? oldest, oldest);
    }
    return out;
  }

  async leastRecentlyUsed(
    limit: number,
    after?: { lastAccess: number; digest: Digest },
  ): Promise<BlobRecord[]> {
    const rows = this.stmt.lru.all(after?.lastAccess ?? -1, after?.digest ?? "", limit) as Row[];
    return rows.map(blobRecord);
  }

  async listContent(limit: number, after?: Digest): Promise<BlobRecord[]> {
    return (this.stmt.listContent.all(after ?? "", limit) as Row[]).map(blobRecord);
  }

  recordTagPull({ registry, repo }: RepoKey, tag: string, at: number): void {
    const k = `${registry}\0${repo}\0${tag}`;
    this.tagPulls.set(k, Math.max(this.tagPulls.get(k) ?? 0, at));
  }

  async tagsPulledBefore(before: number): Promise<TagRef[]> {
    return (this.stmt.tagsPulledBefore.all(before) as Row[]).map(tagRef);
  }

  async tagsOf(digest: Digest): Promise<TagRef[]> {
    return (this.stmt.tagsOf.all(digest) as Row[]).map(tagRef);
  }

  async tagRefs({ registry, repo }: RepoKey): Promise<TagRef[]> {
    return (this.stmt.tagRefs.all(registry, repo) as Row[]).map(tagRef);
  }

  async deleteTag({ registry, repo }: RepoKey, tag: string): Promise<void> {
    this.stmt.deleteTag.run(registry, repo, tag);
  }

  async putManifestRefs(digest: Digest, references: readonly Digest[]): Promise<void> {
    this.db.transaction(() => {
      // A manifest without references still gets a row (itself), so the backfill knows it was recorded.
      for (const child of references.length > 0 ? references : [digest]) this.stmt.putRef.run(digest, child);
    })();
  }

  async manifestChildren(digest: Digest): Promise<Digest[]> {
    return (this.stmt.children.all(digest) as Row[])
      .map((r) => r.child as Digest)
      .filter((d) => d !== digest);
  }

  async manifestParents(digest: Digest): Promise<Digest[]> {
    return (this.stmt.parents.all(digest) as Row[])
      .map((r) => r.parent as Digest)
      .filter((d) => d !== digest);
  }

  async deleteManifest(digest: Digest): Promise<void> {
    this.db.transaction(() => {
      this.stmt.deleteManifest.run(digest);
      this.stmt.deleteRefs.run(digest);
    })();
  }

  async manifestsWithoutRefs(limit: number): Promise<Digest[]> {
    return (this.stmt.withoutRefs.all(limit) as Row[]).map((r) => r.digest as Digest);
  }

  async unlinkedContent(): Promise<BlobRecord[]> {
    return (this.stmt.unlinked.all() as Row[]).map(blobRecord);
  }

  async unreferencedBlobs(before: number): Promise<BlobRecord[]> {
    return (this.stmt.unreferenced.all(before) as Row[]).map(blobRecord);
  }

  async staleRows(): Promise<{ tags: TagRef[]; manifests: Digest[] }> {
    return {
      tags: (this.stmt.staleTags.all() as Row[]).map(tagRef),
      manifests: (this.stmt.staleManifests.all() as Row[]).map((r) => r.digest as Digest),
    };
  }

  async linkedRepositories(digest: Digest): Promise<RepoKey[]> {
    return (this.stmt.linkedRepos.all(digest) as Row[]).map((r) => ({
      registry: r.registry as string,
      repo: r.repo as string,
    }));
  }

  async deleteRepository({ registry, repo }: RepoKey): Promise<Digest[]> {
    return this.db.transaction(() => {
      const linked = (this.stmt.repoLinks.all(registry, repo) as Row[]).map((r) => r.digest as Digest);
      this.stmt.deleteRepoTags.run(registry, repo);
      this.stmt.deleteRepoLinks.run(registry, repo);
      this.stmt.deleteRepoTagLists.run(registry, repo);
      this.stmt.deleteRepo.run(registry, repo);
      return linked;
    })();
  }

  async addPin({ registry, repo, reference }: Pin): Promise<void> {
    this.stmt.addPin.run(registry, repo, reference, Date.now());
  }

  async removePin({ registry, repo, reference }: Pin): Promise<boolean> {
    return this.stmt.removePin.run(registry, repo, reference).changes > 0;
  }

  async listPins(): Promise<Pin[]> {
    return (this.stmt.listPins.all() as Row[]).map((r) => ({
      registry: r.registry as string,
      repo: r.repo as string,
      reference: r.reference as string,
    }));
  }

  addUsage(buckets: readonly UsageBucket[]): Promise<void> {
    return this.usage.addUsage(buckets);
  }

  usageSeries(grain: UsageGrain, from: number, to: number): Promise<{ t: number; figures: UsageFigures }[]> {
    return this.usage.usageSeries(grain, from, to);
  }

  usageImages(grain: UsageGrain, from: number, to: number): Promise<ImageUsage[]> {
    return this.usage.usageImages(grain, from, to);
  }

  pruneUsage(grain: UsageGrain, before: number): Promise<void> {
    return this.usage.pruneUsage(grain, before);
  }

  trimUsageImages(grain: UsageGrain, from: number, to: number, keep: number): Promise<void> {
    return this.usage.trimUsageImages(grain, from, to, keep);
  }

  async close(): Promise<void> {
    await this.flush();
    this.db.close();
  }
}

function blobRecord(row: Row): BlobRecord {
  return {
    digest: row.digest as Digest,
    size: row.size as number,
    kind: row.kind as ContentKind,
    location: row.location as Location,
    lastAccess: row.last_access as number,
    requests: row.requests as number,
  };
}

function tagRef(row: Row): TagRef {
  return {
    registry: row.registry as string,
    repo: row.repo as string,
    tag: row.tag as string,
    digest: row.digest as Digest,
    lastPull: row.last_pull as number,
  };
}
