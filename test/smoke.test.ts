// End-to-end smoke test: Debian's docker-registry with Docker-Hub-style token auth as the upstream, hubmirror as a
// child process in front of it, skopeo 1.9 pulling every catalogue image through the mirror: cold (one upstream
// download per blob, fills committed), then warm (no upstream blob GET at all), then by a bare name (`busybox`).
// The tests run in order and share the mirror: each one builds on the cache the previous ones filled.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { buildCatalogue, type Catalogue, MediaType, pushImage, type TestImage } from "./fixtures/images.js";
import { startTokenServer, type TokenServer } from "./fixtures/token-server.js";
import { startUpstreamRegistry, type UpstreamRegistry } from "./fixtures/upstream-registry.js";
import { sha256Digest } from "./helpers.js";
import { MirrorProcess } from "./mirror-process.js";

const run = promisify(execFile);
const pusher = { username: "pusher", password: "s3cret" };
const FILLS = "hubmirror_blob_fills_total";
const CACHE = "hubmirror_cache_requests_total";
const CONFIG_TYPES = new Set<string>([MediaType.dockerConfig, MediaType.ociConfig]);
const UPSTREAM_BLOB_GET = { method: "GET", path: /^\/v2\/.+\/blobs\/sha256:[0-9a-f]{64}$/ };

let tokens: TokenServer;
let upstream: UpstreamRegistry;
let catalogue: Catalogue;
let images: TestImage[];
let mirror: MirrorProcess;
let work: string;

before(
  async () => {
    tokens = await startTokenServer({ users: { [pusher.username]: pusher.password } });
    upstream = await startUpstreamRegistry({ auth: "token", tokenServer: tokens });
    catalogue = await buildCatalogue();
    images = Object.values(catalogue);
    for (const img of images) await pushImage(upstream.url, img.repo, img.tag, img, pusher);
    work = await mkdtemp(join(tmpdir(), "hubmirror-smoke-"));
    mirror = await MirrorProcess.start({ upstream: upstream.url, data: join(work, "data") });
  },
  { timeout: 20_000 },
);

after(async () => {
  await mirror?.stop();
  await upstream?.stop();
  await tokens?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** skopeo with no signature policy; resolves with stdout as bytes. */
async function skopeo(args: string[]): Promise<Buffer> {
  const { stdout } = await run("skopeo", ["--insecure-policy", ...args], {
    encoding: "buffer",
    timeout: 60_000,
    maxBuffer: 16 << 20,
  });
  return stdout;
}

const viaMirror = (name: string, tag = "latest") => `127.0.0.1:${mirror.port}/${name}:${tag}`;
const direct = (img: TestImage) => `127.0.0.1:${upstream.port}/${img.repo}:${img.tag}`;

/** The digest of the manifest `ref` resolves to, as the registry sent it. */
async function manifestDigest(ref: string): Promise<string> {
  const raw = await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]);
  return sha256Digest(raw);
}

/** `skopeo copy --all` of `ref` into a new OCI layout; returns the digests of the blobs it holds. */
async function copyAll(ref: string): Promise<Set<string>> {
  const dir = await mkdtemp(join(work, "oci-"));
  await skopeo([
    "copy",
    "--quiet",
    "--all",
    "--src-tls-verify=false",
    `docker://${ref}`,
    `oci:${dir}:latest`,
  ]);
  const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8")) as { manifests: unknown[] };
  assert.equal(index.manifests.length, 1, `${ref}: one tagged manifest in the layout`);
  return new Set((await readdir(join(dir, "blobs", "sha256"))).map((hex) => `sha256:${hex}`));
}

/**
 * What must arrive byte for byte: everything for an all-OCI image; for a Docker one, which skopeo converts to OCI
 * (new manifests and configs), the layers.
 */
function unconverted(img: TestImage): string[] {
  const oci = img.manifests.every((m) => m.mediaType.startsWith("application/vnd.oci."));
  if (oci) return [...img.manifests, ...img.blobs].map((d) => d.digest);
  return img.blobs.filter((b) => !CONFIG_TYPES.has(b.mediaType)).map((b) => b.digest);
}

async function assertCopied(ref: string, img: TestImage): Promise<void> {
  const held = await copyAll(ref);
  const missing = unconverted(img).filter((d) => !held.has(d));
  assert.deepEqual(missing, [], `${ref}: blobs missing from the OCI layout`);
}

/** Every distinct config and layer of the catalogue. */
const allBlobs = () => new Set(images.flatMap((img) => img.blobs.map((b) => b.digest)));

/** Polls a mirror counter until it reaches `want` (fills commit just after their last byte is served). */
async function metricReaches(name: string, labels: Record<string, string>, want: number): Promise<number> {
  const deadline = Date.now() + 5_000;
  let value = await mirror.metric(name, labels);
  while (value < want && Date.now() < deadline) {
    await sleep(50);
    value = await mirror.metric(name, labels);
  }
  return value;
}

describe("skopeo pulls the catalogue through hubmirror", { timeout: 40_000 }, () => {
  test("cold: manifest digests match the fixtures and the upstream; each blob is fetched once", async () => {
    upstream.clearAccessLog();
    for (const img of images) {
      assert.equal(await manifestDigest(viaMirror(img.repo)), img.manifest.digest, img.repo);
      assert.equal(await manifestDigest(direct(img)), img.manifest.digest, `${img.repo} upstream`);
      await assertCopied(viaMirror(img.repo), img);
    }
    const blobs = allBlobs().size;
    assert.equal(await metricReaches(FILLS, { registry: "docker.io", outcome: "committed" }, blobs), blobs);
    assert.equal(await mirror.metric(FILLS, { outcome: "failed" }), 0);
    assert.equal(await mirror.metric(FILLS, { outcome: "mismatch" }), 0);
    assert.equal(await upstream.count({ ...UPSTREAM_BLOB_GET, status: 200 }), blobs);
  });

  test("warm: a second copy of every image is served from the cache, no upstream blob GET", async () => {
    upstream.clearAccessLog();
    const fills = await mirror.metric(FILLS);
    const hits = await mirror.metric(CACHE, { kind: "blob", result: "hit" });
    for (const img of images) await assertCopied(viaMirror(img.repo), img);
    assert.equal(await upstream.count(UPSTREAM_BLOB_GET), 0);
    assert.equal(await mirror.metric(FILLS), fills);
    assert.ok((await mirror.metric(CACHE, { kind: "blob", result: "hit" })) >= hits + allBlobs().size);
    assert.equal(await mirror.metric(CACHE, { kind: "blob", result: "miss" }), allBlobs().size);
  });

  test("a bare name pulls library/busybox, from the same cache entries", async () => {
    upstream.clearAccessLog();
    const img = catalogue.busybox;
    assert.equal(await manifestDigest(viaMirror("busybox")), img.manifest.digest);
    await assertCopied(viaMirror("busybox"), img);
    assert.deepEqual(await upstream.accessLog(), []);
  });
});
