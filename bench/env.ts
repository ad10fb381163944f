// The bench's world: the tools it needs, one local upstream (Debian's docker-registry) holding the test images, the
// two mirrors in front of it (hubmirror and Distribution's proxy, both with empty caches), nginx for the ceiling.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  biggestBlob,
  buildCatalogue,
  makeBlobImage,
  pushImage,
  type TestImage,
} from "../test/fixtures/images.js";
import { startUpstreamRegistry, type UpstreamRegistry } from "../test/fixtures/upstream-registry.js";
import { getFollowing, getOk } from "./http.js";
import { buildHubmirror, removeBuild, startHubmirror } from "./hubmirror.js";
import { findPid } from "./measure.js";
import { type Nginx, startNginx } from "./nginx.js";
import type { Options } from "./options.js";

/** Binary → Debian package. */
const TOOLS: Record<string, string> = {
  "docker-registry": "docker-registry",
  skopeo: "skopeo",
  wrk: "wrk",
  nginx: "nginx",
  setpriv: "util-linux",
};
/** For the s3 scenario: the radosgw fixture's one-node Ceph cluster. */
const S3_TOOLS: Record<string, string> = {
  radosgw: "radosgw",
  "ceph-mon": "ceph-mon",
  "ceph-osd": "ceph-osd",
  "radosgw-admin": "ceph-common",
};

export const WARMUP_BLOB = 64 * 1024;
const WARMUP_ROUNDS = 5;

export type MirrorName = "hubmirror" | "registry:2";

export interface Mirror {
  name: MirrorName;
  url: string;
  pid: number;
}

export interface Env {
  upstream: UpstreamRegistry;
  /** hubmirror first. */
  mirrors: [Mirror, Mirror];
  nginx: Nginx;
  /** One image per round for the cold rows (a cache is cold once); the first also serves the warm rows. */
  big: TestImage[];
  herd: TestImage[];
  catalogue: TestImage[];
  work: string;
  /** The run's hubmirror's data directory (its filesystem store is `storage/` in it). */
  hubmirrorData: string;
  /** The compiled hubmirror and its Node flags, for scenarios that start their own (s3). */
  hubmirrorBuild: { buildDir: string; nodeArgs: string[] };
  /** hubmirror's warnings and errors so far (its log goes away with `stop`). */
  hubmirrorWarnings(): Promise<string[]>;
  stop(): Promise<void>;
}

function has(binary: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${binary}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Installs missing Debian packages when root (apt-get); otherwise says which are missing. */
export function ensureTools(log: (msg: string) => void, s3: boolean): void {
  process.env.PATH = `${process.env.PATH ?? ""}:/usr/sbin:/sbin`;
  const tools = { ...TOOLS, ...(s3 && S3_TOOLS) };
  const missing = Object.keys(tools).filter((b) => !has(b));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((b) => tools[b] as string))];
  if (process.getuid?.() !== 0)
    throw new Error(`missing tools ${missing.join(", ")}: apt-get install ${pkgs}`);
  log(`installing ${pkgs.join(" ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  try {
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", ...pkgs], { stdio: "inherit", env });
  } catch {
    execFileSync("apt-get", ["update"], { stdio: "inherit", env });
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", ...pkgs], { stdio: "inherit", env });
  }
}

/**
 * A mirror that has been running for a while has compiled its code paths and connected upstream: fetch a small
 * image (manifest by tag and by digest, blobs twice) a few times so that the first measured request is not the
 * first request ever.
 */
export async function warmUp(mirror: Mirror, img: TestImage): Promise<void> {
  for (let i = 0; i < WARMUP_ROUNDS; i++) {
    for (const ref of [img.tag, img.manifest.digest]) {
      await getOk(`${mirror.url}/v2/${img.repo}/manifests/${ref}`, {
        headers: { Accept: img.manifest.mediaType },
      });
    }
    for (const blob of img.blobs) {
      await getFollowing(`${mirror.url}/v2/${img.repo}/blobs/${blob.digest}`, { length: blob.size });
    }
  }
}

export async function startEnv(opts: Options, log: (msg: string) => void): Promise<Env> {
  const work = mkdtempSync(join(tmpdir(), "hubmirror-bench-"));
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(work, { recursive: true, force: true })];
  const stop = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    log("building images and hubmirror");
    // The soak brings its own upstream and images: alone, it needs none of the shared ones.
    const shared = [...opts.only].some((s) => s !== "soak");
    // Sizes differ by 512 bytes (tar alignment) per round: distinct deterministic blobs, cached across runs.
    const rounds = Array.from({ length: shared ? opts.rounds : 0 }, (_, i) => i * 512);
    const big: TestImage[] = [];
    for (const extra of rounds) big.push(await makeBlobImage(opts.bigBlob + extra));
    const herd: TestImage[] = [];
    for (const extra of rounds) herd.push(await makeBlobImage(opts.herdBlob + extra));
    const catalogue = shared ? Object.values(await buildCatalogue({ layerSize: opts.catalogueLayer })) : [];
    const warmup = await makeBlobImage(WARMUP_BLOB);
    const buildDir = buildHubmirror(log);
    cleanups.push(() => removeBuild(buildDir));

    const upstream = await startUpstreamRegistry({ auth: "none" });
    cleanups.push(() => upstream.stop());
    log(`pushing images to the upstream ${upstream.url}`);
    for (const img of [...big, ...herd, ...catalogue, warmup])
      await pushImage(upstream.url, img.repo, img.tag, img);

    const nodeArgs = opts.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.profileDir}`] : [];
    const hubmirrorData = join(work, "hub", "data");
    const hub = await startHubmirror({ buildDir, upstream: upstream.url, data: hubmirrorData, nodeArgs });
    cleanups.push(() => hub.stop());
    const reg = await startUpstreamRegistry({ proxy: { remoteurl: upstream.url } });
    cleanups.push(() => reg.stop());
    const mirrors: [Mirror, Mirror] = [
      { name: "hubmirror", url: hub.url, pid: hub.pid },
      { name: "registry:2", url: reg.url, pid: findPid(join(reg.dir, "config.yml")) },
    ];
    log("warming up both mirrors (code paths, upstream connections) on an image no scenario uses");
    for (const m of mirrors) await warmUp(m, warmup);
    const nginx = await startNginx(biggestBlob(big[0] ?? warmup).path, join(work, "nginx"));
    cleanups.push(() => nginx.stop());
    return {
      upstream,
      mirrors,
      nginx,
      big,
      herd,
      catalogue,
      work,
      hubmirrorData,
      hubmirrorBuild: { buildDir, nodeArgs },
      hubmirrorWarnings: () => hub.warnings(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
