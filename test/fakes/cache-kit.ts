// Small images on a FakeHub, pulled through an in-process mirror, and what the mirror's cache holds of them: for the
// cache lifecycle's tests (eviction, retention). Access times can be set in the mirror's database, so that tests
// say which content is old instead of sleeping.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import type { Digest } from "../../src/reference/reference.js";
import { blobPath } from "../../src/store/layout.js";
import type { FakeHub } from "./fake-hub.js";
import type { InProcessMirror } from "./mirror.js";

export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";

export interface FakeImage {
  repo: string;
  tag: string;
  manifest: Digest;
  config: Digest;
  layers: Digest[];
  /** Manifest, config and layers. */
  content: Digest[];
  /** Their sizes by digest. */
  sizes: Map<Digest, number>;
}

/** Adds `repo:tag` to the hub: a config naming the repository and one layer per buffer (shared ones dedupe). */
export function addImage(hub: FakeHub, repo: string, layers: Buffer[], tag = "latest"): FakeImage {
  const configBody = Buffer.from(JSON.stringify({ repo, architecture: "amd64", os: "linux" }));
  const descriptor = (mediaType: string, b: Buffer) => ({
    mediaType,
    digest: hub.addBlob(b),
    size: b.length,
  });
  const config = descriptor(OCI_CONFIG, configBody);
  const layerDescs = layers.map((l) => descriptor(OCI_LAYER, l));
  const body = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: layerDescs }),
  );
  const manifest = hub.addManifest(repo, body, OCI_MANIFEST, tag) as Digest;
  const sizes = new Map<Digest, number>([[manifest, body.length]]);
  for (const d of [config, ...layerDescs]) sizes.set(d.digest as Digest, d.size);
  return {
    repo,
    tag,
    manifest,
    config: config.digest as Digest,
    layers: layerDescs.map((d) => d.digest as Digest),
    content: [...sizes.keys()],
    sizes,
  };
}

/** Bytes of the image's content, or of the digests given. */
export function bytesOf(img: FakeImage, digests: Digest[] = img.content): number {
  return digests.reduce((n, d) => n + (img.sizes.get(d) ?? 0), 0);
}

/**
 * Pulls the image through the mirror as a client does (the manifest by tag, or by digest with `byDigest`, then
 * config and layers) and checks every body against its digest; resolves once the mirror has stored everything.
 */
export async function pull(mirror: InProcessMirror, img: FakeImage, byDigest = false): Promise<void> {
  const ref = byDigest ? img.manifest : img.tag;
  const m = await mirror.text(`/v2/${img.repo}/manifests/${ref}`, { accept: OCI_MANIFEST });
  assert.equal(m.status, 200, `${img.repo}:${ref}`);
  assert.equal(m.headers["docker-content-digest"], img.manifest);
  for (const d of [img.config, ...img.layers]) {
    const b = await mirror.text(`/v2/${img.repo}/blobs/${d}`);
    assert.equal(b.status, 200, `${img.repo} ${d}`);
    assert.equal(b.body.length, img.sizes.get(d), `${img.repo} ${d}: length`);
  }
  await mirror.settled();
}

/** Whether the mirror's index names `digest` and its bytes are on disk; throws if only one of them is true. */
export async function isStored(mirror: InProcessMirror, digest: Digest): Promise<boolean> {
  const indexed = (await mirror.meta.getBlob(digest)) !== undefined;
  const onDisk = existsSync(join(mirror.data, "storage", blobPath(digest)));
  assert.equal(onDisk, indexed, `${digest}: on disk ${onDisk}, indexed ${indexed}`);
  return indexed;
}

/** Which of the digests are stored (see isStored). */
export async function storedOf(mirror: InProcessMirror, digests: Digest[]): Promise<Digest[]> {
  const out: Digest[] = [];
  for (const d of digests) if (await isStored(mirror, d)) out.push(d);
  return out;
}

/** The mirror's database, opened beside it (WAL: both see each other's commits). */
function db<T>(mirror: InProcessMirror, work: (db: Database.Database) => T): T {
  const conn = new Database(join(mirror.data, "hubmirror.db"));
  try {
    return work(conn);
  } finally {
    conn.close();
  }
}

/** Sets the last access of content (after writing the mirror's buffered accesses, which would override it). */
export async function setLastAccess(mirror: InProcessMirror, digests: Digest[], at: number): Promise<void> {
  await mirror.meta.flush();
  db(mirror, (conn) => {
    const stmt = conn.prepare("UPDATE blobs SET last_access = ? WHERE digest = ?");
    for (const d of digests) assert.equal(stmt.run(at, d).changes, 1, `${d} is not stored`);
  });
}

/** Sets when a docker.io tag was last pulled. */
export async function setLastPull(
  mirror: InProcessMirror,
  repo: string,
  tag: string,
  at: number,
): Promise<void> {
  await mirror.meta.flush();
  db(mirror, (conn) => {
    const stmt = conn.prepare(
      "UPDATE tags SET last_pull = ? WHERE registry = 'docker.io' AND repo = ? AND tag = ?",
    );
    assert.equal(stmt.run(at, repo, tag).changes, 1, `${repo}:${tag} is not stored`);
  });
}

/** POSTs to the mirror's admin API; the JSON answer. */
export async function adminPost<T>(mirror: InProcessMirror, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${mirror.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${path}: ${text}`);
  return JSON.parse(text) as T;
}
