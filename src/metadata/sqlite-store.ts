import Database from "better-sqlite3";
import type { Digest } from "../reference/reference.js";
import type {
  BlobRecord,
  ManifestRecord,
  MetadataStore,
  RepoKey,
  TagRecord,
  UpstreamStatus,
} from "./store.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at INTEGER NOT NULL, last_access INTEGER NOT NULL,
  location TEXT NOT NULL DEFAULT 'local');
CREATE TABLE IF NOT EXISTS repositories (
  registry TEXT NOT NULL, name TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (registry, name));
CREATE TABLE IF NOT EXISTS blob_links (
  registry TEXT NOT NULL, repo TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (registry, repo, digest));
CREATE TABLE IF NOT EXISTS manifests (
  digest TEXT PRIMARY KEY, media_type TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
  registry TEXT NOT NULL, repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
  checked_at INTEGER NOT NULL, PRIMARY KEY (registry, repo, tag));
CREATE TABLE IF NOT EXISTS tag_lists (
  registry TEXT NOT NULL, repo TEXT NOT NULL, query TEXT NOT NULL, body BLOB NOT NULL,
  fetched_at INTEGER NOT NULL, PRIMARY KEY (registry, repo, query));
CREATE TABLE IF NOT EXISTS upstream_status (
  registry TEXT PRIMARY KEY, ratelimit_limit INTEGER, ratelimit_remaining INTEGER, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
`;

type Row = Record<string, unknown>;

/** Brings a database made by an earlier version up to SCHEMA (CREATE IF NOT EXISTS adds no columns). */
function migrate(db: Database.Database): void {
  const columns = (db.pragma("table_info(blobs)") as { name: string }[]).map((c) => c.name);
  if (!columns.includes("location")) {
    db.exec("ALTER TABLE blobs ADD COLUMN location TEXT NOT NULL DEFAULT 'local'");
  }
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    getTag: p("SELECT digest, checked_at FROM tags WHERE registry = ? AND repo = ? AND tag = ?"),
    putTag: p(
      `INSERT INTO tags (registry, repo, tag, digest, checked_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET digest = excluded.digest, checked_at = excluded.checked_at`,
    ),
    touchTag: p("UPDATE tags SET checked_at = ? WHERE registry = ? AND repo = ? AND tag = ?"),
    listTags: p("SELECT tag FROM tags WHERE registry = ? AND repo = ? ORDER BY tag"),
    getManifest: p("SELECT digest, media_type, size FROM manifests WHERE digest = ?"),
    putManifest: p("INSERT OR REPLACE INTO manifests (digest, media_type, size) VALUES (?, ?, ?)"),
    getBlob: p("SELECT size, location, last_access FROM blobs WHERE digest = ?"),
    putBlob: p(
      `INSERT INTO blobs (digest, size, created_at, last_access, location) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET size = excluded.size, last_access = excluded.last_access,
         location = excluded.location`,
    ),
    deleteBlob: p("DELETE FROM blobs WHERE digest = ?"),
    touchBlob: p("UPDATE blobs SET last_access = max(last_access, ?) WHERE digest = ?"),
    putRepo: p("INSERT OR IGNORE INTO repositories (registry, name, created_at) VALUES (?, ?, ?)"),
    linkBlob: p("INSERT OR IGNORE INTO blob_links (registry, repo, digest) VALUES (?, ?, ?)"),
    isLinked: p("SELECT 1 FROM blob_links WHERE registry = ? AND repo = ? AND digest = ?"),
    listRepos: p("SELECT name FROM repositories WHERE registry = ? AND name > ? ORDER BY name LIMIT ?"),
    putTagList: p(
      "INSERT OR REPLACE INTO tag_lists (registry, repo, query, body, fetched_at) VALUES (?, ?, ?, ?, ?)",
    ),
    getTagList: p("SELECT body FROM tag_lists WHERE registry = ? AND repo = ? AND query = ?"),
    setUpstream: p(
      `INSERT OR REPLACE INTO upstream_status (registry, ratelimit_limit, ratelimit_remaining, updated_at)
       VALUES (?, ?, ?, ?)`,
    ),
    getUpstream: p("SELECT * FROM upstream_status WHERE registry = ?"),
    addCounter: p(
      "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = value + excluded.value",
    ),
    getCounters: p("SELECT name, value FROM counters"),
  };
}

/** The embedded metadata store. better-sqlite3 is synchronous and fast; WAL keeps readers off the writer's way. */
export class SqliteStore implements MetadataStore {
  private readonly db: Database.Database;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  private readonly accesses = new Map<string, number>();
  private readonly counterDeltas = new Map<string, number>();

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    migrate(this.db);
    this.stmt = prepareStatements(this.db);
  }

  async getTag({ registry, repo }: RepoKey, tag: string): Promise<TagRecord | undefined> {
    const row = this.stmt.getTag.get(registry, repo, tag) as Row | undefined;
    return row && { digest: row.digest as Digest, checkedAt: row.checked_at as number };
  }

  async putTag({ registry, repo }: RepoKey, tag: string, digest: Digest, checkedAt: number): Promise<void> {
    this.stmt.putTag.run(registry, repo, tag, digest, checkedAt);
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
    const pending = this.accesses.get(digest) ?? 0;
    return {
      digest,
      size: row.size as number,
      location: row.location as string,
      lastAccess: Math.max(row.last_access as number, pending),
    };
  }

  async putBlob(digest: Digest, size: number, location: string): Promise<void> {
    const now = Date.now();
    this.stmt.putBlob.run(digest, size, now, now, location);
  }

  async deleteBlob(digest: Digest): Promise<void> {
    this.stmt.deleteBlob.run(digest);
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
    this.accesses.set(digest, at);
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
    if (this.accesses.size === 0 && this.counterDeltas.size === 0) return;
    this.db.transaction(() => {
      for (const [digest, at] of this.accesses) this.stmt.touchBlob.run(at, digest);
      for (const [name, v] of this.counterDeltas) this.stmt.addCounter.run(name, v);
    })();
    this.accesses.clear();
    this.counterDeltas.clear();
  }

  async close(): Promise<void> {
    await this.flush();
    this.db.close();
  }
}
