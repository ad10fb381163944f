import type Database from "better-sqlite3";

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  digest TEXT PRIMARY KEY, size INTEGER NOT NULL, created_at INTEGER NOT NULL, last_access INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS offload_failures (
  digest TEXT PRIMARY KEY, attempts INTEGER NOT NULL, last_error TEXT NOT NULL, retry_at INTEGER NOT NULL);
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

export type Row = Record<string, unknown>;

/** Columns added to `blobs` since its first version; CREATE TABLE IF NOT EXISTS adds none to an old database. */
const BLOB_COLUMNS: Record<string, string> = {
  location: "TEXT NOT NULL DEFAULT 'local'",
  kind: "TEXT NOT NULL DEFAULT 'blob'",
  requests: "INTEGER NOT NULL DEFAULT 0",
};

/** Brings a database made by an earlier version up to SCHEMA. */
export function migrate(db: Database.Database): void {
  const columns = new Set((db.pragma("table_info(blobs)") as { name: string }[]).map((c) => c.name));
  for (const [name, type] of Object.entries(BLOB_COLUMNS)) {
    if (!columns.has(name)) db.exec(`ALTER TABLE blobs ADD COLUMN ${name} ${type}`);
  }
  db.exec("CREATE INDEX IF NOT EXISTS blobs_by_location ON blobs (location, last_access)");
}

export function prepareStatements(db: Database.Database) {
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
    getBlob: p("SELECT size, kind, location, last_access, requests FROM blobs WHERE digest = ?"),
    putBlob: p(
      `INSERT INTO blobs (digest, size, created_at, last_access, kind, location) VALUES (?, ?, ?, ?, ?, 'local')
       ON CONFLICT DO UPDATE SET size = excluded.size, last_access = excluded.last_access, kind = excluded.kind,
         location = 'local'`,
    ),
    deleteBlob: p("DELETE FROM blobs WHERE digest = ?"),
    touchBlob: p(
      "UPDATE blobs SET last_access = max(last_access, ?), requests = requests + ? WHERE digest = ?",
    ),
    setLocation: p("UPDATE blobs SET location = ? WHERE digest = ?"),
    clearFailure: p("DELETE FROM offload_failures WHERE digest = ?"),
    getFailure: p("SELECT attempts FROM offload_failures WHERE digest = ?"),
    putFailure: p(
      "INSERT OR REPLACE INTO offload_failures (digest, attempts, last_error, retry_at) VALUES (?, ?, ?, ?)",
    ),
    offloadCandidates: p(
      `SELECT b.digest, b.size FROM blobs b LEFT JOIN offload_failures f ON f.digest = b.digest
       WHERE b.location = 'local' AND b.kind = 'blob' AND b.size >= ? AND b.requests >= ?
         AND (f.retry_at IS NULL OR f.retry_at <= ?)
       ORDER BY b.last_access DESC LIMIT ?`,
    ),
    offloadStatus: p(
      `SELECT
         CASE WHEN b.location = 'offloaded' THEN 'synced' WHEN f.digest IS NOT NULL THEN 'failed'
           ELSE 'pending' END AS state,
         count(*) AS count, coalesce(sum(b.size), 0) AS bytes
       FROM blobs b LEFT JOIN offload_failures f ON f.digest = b.digest
       WHERE b.kind = 'blob' AND (b.location = 'offloaded' OR (b.size >= ? AND b.requests >= ?))
       GROUP BY state`,
    ),
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
