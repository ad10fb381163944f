import type Database from "better-sqlite3";
import { USAGE_FIGURES } from "./store.js";

/**
 * Usage statistics (src/stats): a row per bucket of each grain, its images beside it. Figures are untyped columns:
 * counts stay integers, downloadMs keeps its fraction.
 */
const USAGE_COLUMNS: Record<string, string> = Object.fromEntries(
  USAGE_FIGURES.map((f) => [f, "NOT NULL DEFAULT 0"]),
);
const USAGE_TABLES = `
CREATE TABLE IF NOT EXISTS usage_buckets (
  grain TEXT NOT NULL, t INTEGER NOT NULL,
  ${Object.entries(USAGE_COLUMNS)
    .map(([name, type]) => `${name} ${type}`)
    .join(", ")},
  PRIMARY KEY (grain, t));
CREATE TABLE IF NOT EXISTS usage_images (
  grain TEXT NOT NULL, t INTEGER NOT NULL, image TEXT NOT NULL, pulls INTEGER NOT NULL, bytes INTEGER NOT NULL,
  PRIMARY KEY (grain, t, image));
`;

export const SCHEMA = `${USAGE_TABLES}
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
CREATE TABLE IF NOT EXISTS manifest_refs (
  parent TEXT NOT NULL, child TEXT NOT NULL, PRIMARY KEY (parent, child));
CREATE INDEX IF NOT EXISTS manifest_refs_by_child ON manifest_refs (child);
CREATE TABLE IF NOT EXISTS pins (
  registry TEXT NOT NULL, repo TEXT NOT NULL, reference TEXT NOT NULL, created_at INTEGER NOT NULL,
  PRIMARY KEY (registry, repo, reference));
CREATE INDEX IF NOT EXISTS blob_links_by_digest ON blob_links (digest);
`;

export type Row = Record<string, unknown>;

/** Columns added to `blobs` since its first version; CREATE TABLE IF NOT EXISTS adds none to an old database. */
const BLOB_COLUMNS: Record<string, string> = {
  location: "TEXT NOT NULL DEFAULT 'local'",
  kind: "TEXT NOT NULL DEFAULT 'blob'",
  requests: "INTEGER NOT NULL DEFAULT 0",
};

/** Columns added to `tags`: when a client last resolved the tag (0: not since the upgrade). */
const TAG_COLUMNS: Record<string, string> = {
  last_pull: "INTEGER NOT NULL DEFAULT 0",
};

/** Adds the `wanted` columns a table of an older database lacks; returns their names. */
export function addColumns(db: Database.Database, table: string, wanted: Record<string, string>): string[] {
  const columns = new Set((db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name));
  const added: string[] = [];
  for (const [name, type] of Object.entries(wanted)) {
    if (columns.has(name)) continue;
    db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
    added.push(name);
  }
  return added;
}

/** Brings a database made by an earlier version up to SCHEMA. */
export function migrate(db: Database.Database): void {
  addColumns(db, "blobs", BLOB_COLUMNS);
  // A figure added to USAGE_FIGURES later gets its column in an older database.
  addColumns(db, "usage_buckets", USAGE_COLUMNS);
  // A tag of an older database counts as pulled when upstream last confirmed it, not at the epoch.
  if (addColumns(db, "tags", TAG_COLUMNS).length > 0) db.exec("UPDATE tags SET last_pull = checked_at");
  db.exec("CREATE INDEX IF NOT EXISTS blobs_by_location ON blobs (location, last_access)");
  db.exec("CREATE INDEX IF NOT EXISTS blobs_by_access ON blobs (last_access, digest)");
  db.exec("CREATE INDEX IF NOT EXISTS tags_by_digest ON tags (digest)");
}

export function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    getTag: p("SELECT digest, checked_at FROM tags WHERE registry = ? AND repo = ? AND tag = ?"),
    putTag: p(
      `INSERT INTO tags (registry, repo, tag, digest, checked_at, last_pull) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET digest = excluded.digest, checked_at = excluded.checked_at,
         last_pull = max(last_pull, excluded.last_pull)`,
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
    ...lifecycleStatements(p),
  };
}

const BLOB_COLUMNS_SELECT = "b.digest, b.size, b.kind, b.location, b.last_access, b.requests";
const TAG_COLUMNS_SELECT = "registry, repo, tag, digest, last_pull";

/** The cache lifecycle's queries (eviction, retention, GC, purge, pins). */
function lifecycleStatements(p: (sql: string) => Database.Statement) {
  return {
    usage: p(
      `SELECT kind, count(*) AS count, coalesce(sum(size), 0) AS bytes, min(last_access) AS oldest
       FROM blobs GROUP BY kind`,
    ),
    lru: p(
      `SELECT ${BLOB_COLUMNS_SELECT} FROM blobs b WHERE (b.last_access, b.digest) > (?, ?)
       ORDER BY b.last_access, b.digest LIMIT ?`,
    ),
    listContent: p(`SELECT ${BLOB_COLUMNS_SELECT} FROM blobs b WHERE b.digest > ? ORDER BY b.digest LIMIT ?`),
    touchTagPull: p(
      "UPDATE tags SET last_pull = max(last_pull, ?) WHERE registry = ? AND repo = ? AND tag = ?",
    ),
    tagsPulledBefore: p(`SELECT ${TAG_COLUMNS_SELECT} FROM tags WHERE last_pull < ?`),
    tagsOf: p(`SELECT ${TAG_COLUMNS_SELECT} FROM tags WHERE digest = ?`),
    tagRefs: p(`SELECT ${TAG_COLUMNS_SELECT} FROM tags WHERE registry = ? AND repo = ? ORDER BY tag`),
    deleteTag: p("DELETE FROM tags WHERE registry = ? AND repo = ? AND tag = ?"),
    putRef: p("INSERT OR IGNORE INTO manifest_refs (parent, child) VALUES (?, ?)"),
    children: p("SELECT child FROM manifest_refs WHERE parent = ?"),
    parents: p(
      `SELECT r.parent FROM manifest_refs r JOIN blobs b ON b.digest = r.parent
       WHERE r.child = ? AND b.kind = 'manifest'`,
    ),
    deleteManifest: p("DELETE FROM manifests WHERE digest = ?"),
    deleteRefs: p("DELETE FROM manifest_refs WHERE parent = ?"),
    withoutRefs: p(
      `SELECT b.digest FROM blobs b WHERE b.kind = 'manifest'
       AND NOT EXISTS (SELECT 1 FROM manifest_refs r WHERE r.parent = b.digest) LIMIT ?`,
    ),
    unlinked: p(
      `SELECT ${BLOB_COLUMNS_SELECT} FROM blobs b
       WHERE NOT EXISTS (SELECT 1 FROM blob_links l WHERE l.digest = b.digest) ORDER BY b.digest`,
    ),
    unreferenced: p(
      `SELECT ${BLOB_COLUMNS_SELECT} FROM blobs b WHERE b.kind = 'blob' AND b.last_access < ?
       AND NOT EXISTS (SELECT 1 FROM manifest_refs r JOIN blobs m ON m.digest = r.parent
                       WHERE r.child = b.digest AND m.kind = 'manifest')
       ORDER BY b.digest`,
    ),
    staleTags: p(
      `SELECT ${TAG_COLUMNS_SELECT} FROM tags t
       WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = t.digest)`,
    ),
    staleManifests: p(
      `SELECT m.digest FROM manifests m WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = m.digest)
       UNION SELECT DISTINCT r.parent FROM manifest_refs r
       WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = r.parent)`,
    ),
    linkedRepos: p("SELECT registry, repo FROM blob_links WHERE digest = ? ORDER BY registry, repo"),
    repoLinks: p("SELECT digest FROM blob_links WHERE registry = ? AND repo = ?"),
    deleteRepoTags: p("DELETE FROM tags WHERE registry = ? AND repo = ?"),
    deleteRepoLinks: p("DELETE FROM blob_links WHERE registry = ? AND repo = ?"),
    deleteRepoTagLists: p("DELETE FROM tag_lists WHERE registry = ? AND repo = ?"),
    deleteRepo: p("DELETE FROM repositories WHERE registry = ? AND name = ?"),
    addPin: p("INSERT OR IGNORE INTO pins (registry, repo, reference, created_at) VALUES (?, ?, ?, ?)"),
    removePin: p("DELETE FROM pins WHERE registry = ? AND repo = ? AND reference = ?"),
    listPins: p("SELECT registry, repo, reference FROM pins ORDER BY registry, repo, reference"),
  };
}
