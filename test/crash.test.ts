// Crash safety with real processes: hubmirror is SIGKILLed while cold 64 MiB layers, small blobs and manifests
// stream through it (when a client has received N bytes of one layer, N from the first chunk to the last byte),
// then restarted on the same data directory. After every restart: no temp file is left, every committed blob
// hashes to its digest, every tag row points at a committed, verified manifest. At the end every image pulls
// back through the mirror with the right bytes.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { Agent, type Dispatcher, request } from "undici";
import { MiB } from "./fixtures/blob-store.js";
import { buildCatalogue, makeBlobImage, pushImage, type TestImage } from "./fixtures/images.js";
import { startTokenServer, type TokenServer } from "./fixtures/token-server.js";
import { startUpstreamRegistry, type UpstreamRegistry } from "./fixtures/upstream-registry.js";
import { verifiedStore } from "./fixtures/verify-store.js";
import { streamDigest } from "./helpers.js";
import { MirrorProcess } from "./mirror-process.js";

const pusher = { username: "pusher", password: "s3cret" };
/** Three distinct layers of about 64 MiB (makeBlobImage names each image after its layer size). */
const BIG_SIZES = [64 * MiB, 64 * MiB + 512, 64 * MiB + 1024];
const ACCEPT = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
].join(", ");
/** When to kill: after a client has received this many bytes of the watched layer (of `size` bytes). */
const KILL_POINTS: { label: string; at: (size: number) => number }[] = [
  { label: "its first chunk", at: () => 1 },
  { label: "a quarter of it", at: (size) => size / 4 },
  { label: "three quarters of it", at: (size) => (size * 3) / 4 },
  { label: "its last byte", at: (size) => size },
];

/** One GET through the mirror, and what its body must hash to. */
interface Target {
  path: string;
  digest: string;
  size: number;
}

interface Pulled {
  status: number;
  digest: string;
  size: number;
  /** The error body, when the status is not 200. */
  error?: string;
}

let tokens: TokenServer;
let upstream: UpstreamRegistry;
let data: string;
let mirror: MirrorProcess;
let targets: Target[];
let bigLayers: Target[];

/** Every manifest (by tag and by digest) and every blob of the images, each blob once, under a repo that has it. */
function targetsOf(images: TestImage[]): Target[] {
  const blobs = new Map<string, Target>();
  const manifests: Target[] = [];
  for (const { repo, tag, manifest, manifests: all, blobs: own } of images) {
    const { digest, size } = manifest;
    manifests.push({ path: `/v2/${repo}/manifests/${tag}`, digest, size });
    for (const m of all)
      manifests.push({ path: `/v2/${repo}/manifests/${m.digest}`, digest: m.digest, size: m.size });
    for (const b of own) {
      if (!blobs.has(b.digest))
        blobs.set(b.digest, { path: `/v2/${repo}/blobs/${b.digest}`, digest: b.digest, size: b.size });
    }
  }
  return [...manifests, ...blobs.values()];
}

before(
  async () => {
    tokens = await startTokenServer({ users: { [pusher.username]: pusher.password } });
    upstream = await startUpstreamRegistry({ auth: "token", tokenServer: tokens });
    const big = await Promise.all(BIG_SIZES.map((size) => makeBlobImage(size)));
    const images = [...Object.values(await buildCatalogue()), ...big];
    for (const img of images) await pushImage(upstream.url, img.repo, img.tag, img, pusher);
    targets = targetsOf(images);
    bigLayers = targets.filter((t) => BIG_SIZES.includes(t.size));
    data = await mkdtemp(join(tmpdir(), "hubmirror-crash-"));
    mirror = await MirrorProcess.start({ upstream: upstream.url, data });
  },
  { timeout: 20_000 },
);

after(async () => {
  await mirror?.stop();
  await upstream?.stop();
  await tokens?.stop();
  if (data) await rm(data, { recursive: true, force: true });
});

/** GETs `target` from the mirror, hashing the body as it streams; `onBytes` sees the running byte count. */
async function pull(
  target: Target,
  dispatcher: Dispatcher,
  onBytes: (received: number) => void = () => {},
): Promise<Pulled> {
  const res = await request(mirror.url + target.path, { dispatcher, headers: { accept: ACCEPT } });
  if (res.statusCode !== 200)
    return { status: res.statusCode, digest: "", size: 0, error: await res.body.text() };
  const { digest, size } = await streamDigest(res.body as AsyncIterable<Buffer>, onBytes);
  return { status: res.statusCode, digest, size };
}

function assertPulled(target: Target, got: Pulled): void {
  assert.deepEqual(got, { status: 200, digest: target.digest, size: target.size }, target.path);
}

/** For `readdir(…).catch(noEntries)`: a directory that does not exist has no entries. */
function noEntries(err: NodeJS.ErrnoException): never[] {
  if (err.code === "ENOENT") return [];
  throw err;
}

const listDir = (dir: string) => readdir(dir).catch(noEntries);

const tempDirs = () => [join(data, "storage", "_uploads"), join(data, "spool")];

async function countTempFiles(): Promise<number> {
  let n = 0;
  for (const dir of tempDirs()) n += (await listDir(dir)).length;
  return n;
}

/** (a) A restarted mirror has removed every temp file a crash left. */
async function assertNoTempFiles(): Promise<void> {
  for (const dir of tempDirs()) assert.deepEqual(await listDir(dir), [], `temp files left in ${dir}`);
}

/** (b) Every committed file under blobs/sha256 sits at `<hex[0:2]>/<hex>/data` and hashes to that hex. */
const verifyCommittedBlobs = () => verifiedStore(data);

interface TagRow {
  registry: string;
  repo: string;
  tag: string;
  digest: string;
}

/** (c) Every tag row, and every manifest row, names a manifest that is committed and verified. */
function assertMetadataResolves(verified: Set<string>): void {
  const db = new Database(join(data, "hubmirror.db"), { readonly: true, fileMustExist: true });
  try {
    const tags = db.prepare("SELECT registry, repo, tag, digest FROM tags").all() as TagRow[];
    const manifests = new Set(
      (db.prepare("SELECT digest FROM manifests").all() as { digest: string }[]).map((r) => r.digest),
    );
    for (const { registry, repo, tag, digest } of tags) {
      const what = `tag ${registry}/${repo}:${tag} → ${digest}`;
      assert.ok(manifests.has(digest), `${what}: no manifest row`);
      assert.ok(verified.has(digest), `${what}: manifest not committed`);
    }
    for (const digest of manifests) {
      assert.ok(verified.has(digest), `manifest row ${digest}: not committed`);
    }
  } finally {
    db.close();
  }
}

interface Round {
  /** Bytes the watched client had when the kill was sent; undefined if it never got `at` bytes. */
  killedAt: number | undefined;
  /** Responses that completed before the kill. */
  completed: [Target, Pulled][];
}

/**
 * Starts every GET at once (each big layer twice) and SIGKILLs the mirror when the first client of `watched` has
 * received `at` bytes. Returns once every client is done and the mirror is gone (killed anyway if never reached).
 */
async function crashRound(watched: Target, at: number): Promise<Round> {
  const agent = new Agent();
  let killedAt: number | undefined;
  const watch = (received: number) => {
    if (killedAt === undefined && received >= at) {
      killedAt = received;
      mirror.kill();
    }
  };
  const clients = [...targets, ...bigLayers];
  const results = await Promise.allSettled(
    clients.map((t) => pull(t, agent, t === watched ? watch : undefined)),
  );
  mirror.kill();
  await mirror.stopped();
  await agent.destroy();
  const completed = results.flatMap((r, i): [Target, Pulled][] =>
    r.status === "fulfilled" ? [[clients[i] as Target, r.value]] : [],
  );
  return { killedAt, completed };
}

describe("hubmirror killed with -9 mid-transfer", { timeout: 40_000 }, () => {
  let leftBehind = 0;

  for (const [round, { label, at }] of KILL_POINTS.entries()) {
    test(`killed once a client has ${label}; restarted on the same data`, async (t) => {
      const watched = bigLayers[round % bigLayers.length] as Target;
      const { killedAt, completed } = await crashRound(watched, at(watched.size));
      const temp = await countTempFiles();
      leftBehind += temp;
      t.diagnostic(
        `killed at ${killedAt} of ${watched.size} bytes of ${watched.path}; ${temp} temp files left`,
      );
      // Restart before asserting anything, so that a failed round leaves a running mirror to the next one.
      const crashLog = mirror.log();
      await mirror.start();

      assert.ok(killedAt !== undefined, `${watched.path} never got that far:\n${crashLog}`);
      for (const [target, got] of completed) assertPulled(target, got);
      await assertNoTempFiles();
      assertMetadataResolves(await verifyCommittedBlobs());
    });
  }

  test("the kills landed mid-download: they left temp files to clean", () => {
    assert.ok(leftBehind > 0);
  });

  test("after the crashes every manifest and blob pulls back with the right bytes", async () => {
    const agent = new Agent();
    try {
      await Promise.all(targets.map(async (t) => assertPulled(t, await pull(t, agent))));
    } finally {
      await agent.destroy();
    }
  });
});
