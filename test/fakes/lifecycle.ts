// Helpers for the cache lifecycle tests (GC, purge): small images on the FakeHub, pulls through a mirror, and a
// snapshot of a mirror's data directory (files and index rows) to prove that something changed nothing.
import { createHash, randomBytes } from "node:crypto";
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import Database from "better-sqlite3";
import type { FakeHub } from "./fake-hub.js";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";

export interface HubImage {
  repo: string;
  tag: string;
  manifest: string;
  /** The manifest's bytes, to tag it again. */
  body: Buffer;
  config: string;
  layers: string[];
  /** Config and layers. */
  blobs: string[];
}

/** A layer's bytes, to share between images (a base layer). */
export const layer = (size = 64 << 10): Buffer => randomBytes(size);

/** Adds an OCI image with a fresh config and these layers to the hub, as `repo:tag`. */
export function addImage(hub: FakeHub, repo: string, tag: string, layers: Buffer[]): HubImage {
  const configBody = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", id: randomBytes(8) }));
  const config = hub.addBlob(configBody);
  const layerDigests = layers.map((l) => hub.addBlob(l));
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config, size: configBody.length },
      layers: layers.map((l, i) => ({ mediaType: OCI_LAYER, digest: layerDigests[i], size: l.length })),
    }),
  );
  const manifest = hub.addManifest(repo, body, OCI_MANIFEST, tag);
  return { repo, tag, manifest, body, config, layers: layerDigests, blobs: [config, ...layerDigests] };
}

/** What a mirror answers at `base`, status and body digest, for a path. */
async function fetchDigest(base: string, path: string): Promise<{ status: number; digest: string }> {
  const res = await fetch(`${base}${path}`, { headers: { accept: OCI_MANIFEST } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, digest: `sha256:${createHash("sha256").update(body).digest("hex")}` };
}

/** Pulls an image through the mirror at `base` as a client does: the tag's manifest, then every blob. */
export async function pull(base: string, img: HubImage): Promise<void> {
  const m = await fetchDigest(base, `/v2/${img.repo}/manifests/${img.tag}`);
  if (m.status !== 200 || m.digest !== img.manifest)
    throw new Error(`pull ${img.repo}:${img.tag}: ${m.status}`);
  for (const b of img.blobs) {
    const r = await fetchDigest(base, `/v2/${img.repo}/blobs/${b}`);
    if (r.status !== 200 || r.digest !== b) throw new Error(`pull ${img.repo} blob ${b}: ${r.status}`);
  }
}

/**
 * Every file of a data directory but the database (relative path → size and mtime), for before/after
 * comparisons; the database is compared by its rows (indexRows), its files change with every counter flush.
 */
export async function fileTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (!e.isFile() || (e.parentPath === dir && e.name.startsWith("hubmirror.db"))) continue;
    const path = join(e.parentPath, e.name);
    const st = await stat(path).catch(() => undefined);
    if (st) out[relative(dir, path)] = `${st.size}@${st.mtimeMs}`;
  }
  return out;
}

/**
 * The index rows of a mirror's database, sorted: every table but the counters (which count runs) and the usage
 * statistics (flushed every few seconds, whatever runs).
 */
export function indexRows(data: string): Record<string, unknown[]> {
  const db = new Database(join(data, "hubmirror.db"), { readonly: true });
  try {
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'counters' AND name NOT LIKE 'usage_%' ORDER BY name",
      )
      .all() as { name: string }[];
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) {
      out[name] = (db.prepare(`SELECT * FROM ${name}`).all() as unknown[])
        .map((r) => JSON.stringify(r))
        .sort();
    }
    return out;
  } finally {
    db.close();
  }
}

/** Runs SQL on a mirror's database from outside (what an earlier version, or a crash, would have left). */
export function sql(data: string, statement: string, ...params: unknown[]): void {
  const db = new Database(join(data, "hubmirror.db"));
  try {
    db.prepare(statement).run(...params);
  } finally {
    db.close();
  }
}

/** The digests the index names (blobs table). */
export function indexedDigests(data: string): Set<string> {
  const db = new Database(join(data, "hubmirror.db"), { readonly: true });
  try {
    return new Set(
      (db.prepare("SELECT digest FROM blobs").all() as { digest: string }[]).map((r) => r.digest),
    );
  } finally {
    db.close();
  }
}

/** GETs one blob through the mirror at `base`; throws unless it arrives whole. */
export async function getBlob(base: string, repo: string, digest: string): Promise<void> {
  const r = await fetchDigest(base, `/v2/${repo}/blobs/${digest}`);
  if (r.status !== 200 || r.digest !== digest) throw new Error(`GET ${repo} blob ${digest}: ${r.status}`);
}
