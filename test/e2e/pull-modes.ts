// The ways a real client pulls a docker.io image through hubmirror, each with its real mirror configuration, and
// the check that a pull both got the expected digest and was served by hubmirror (its /metrics counters), so a
// client that silently fell back elsewhere can't pass.
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { removeTree } from "../clients/proc.js";
import type { ManifestFile, TestImage } from "../fixtures/images.js";
import type { MirrorProcess } from "../mirror-process.js";
import type { Clients } from "./stack.js";

const HOST_ARCH = process.arch === "x64" ? "amd64" : process.arch;
/** The other platform of the multi-arch images, so that a non-default child is pulled too. */
const OTHER_ARCH = HOST_ARCH === "amd64" ? "arm64" : "amd64";
const SERVED = "hubmirror_http_requests_total";

/** The ways of pulling, by name; see pullModes(). */
export const MODES = [
  "dockerd registry-mirrors",
  "ctr --hosts-dir",
  "ctr --plain-http",
  "podman registries.conf",
  "skopeo --registries-conf",
  "skopeo direct --all",
] as const;
export type ModeName = (typeof MODES)[number];

export interface PullMode {
  name: ModeName;
  /** Pulls the image's tag; resolves with the manifest digest the client reports. */
  pull(img: TestImage): Promise<string>;
  /** The digest the client must report. */
  expected(img: TestImage): string;
  /** Manifests the client must GET, at least. */
  manifests(img: TestImage): number;
  /** Blobs the client must GET (from an empty store). */
  blobs(img: TestImage): string[];
  /** Removes the image from the client's store, so that the next pull fetches everything again. */
  forget(img: TestImage): Promise<void>;
}

const isIndex = (img: TestImage) => img.manifests.length > 1;
const shortName = (img: TestImage) => img.repo.replace(/^library\//, "");

/** The image manifest for `arch`: the tag's own manifest, or an index's child. */
function child(img: TestImage, arch = HOST_ARCH): ManifestFile {
  const m = img.manifests.find((m) => m.platform?.os === "linux" && m.platform.architecture === arch);
  if (!m) throw new Error(`${img.repo}: no linux/${arch} manifest`);
  return m;
}

/** Config and layer digests of an image manifest. */
function blobsOf(manifest: ManifestFile): string[] {
  const m = JSON.parse(manifest.body.toString()) as {
    config: { digest: string };
    layers: { digest: string }[];
  };
  return [m.config.digest, ...m.layers.map((l) => l.digest)];
}

/** One platform, as the client picks it by default: the tag's digest, the child's blobs. */
const hostPlatform = {
  expected: (img: TestImage) => img.manifest.digest,
  manifests: (img: TestImage) => (isIndex(img) ? 2 : 1),
  blobs: (img: TestImage) => blobsOf(child(img)),
};

/** Every way of pulling through the mirror at `mirror`; copies that skopeo makes go under its own dir. */
export function pullModes(clients: Clients, mirror: MirrorProcess): Record<ModeName, PullMode> {
  const { dockerd, containerd, podman, skopeo } = clients;
  const direct = (img: TestImage) => `127.0.0.1:${mirror.port}/${img.repo}:latest`;
  const qualified = (img: TestImage) => `docker.io/${img.repo}:latest`;
  const copies = join(skopeo.dir, "copies");
  let n = 0;
  const copyDir = async (img: TestImage) => {
    await mkdir(copies, { recursive: true });
    return join(copies, `${shortName(img)}-${n++}`);
  };
  const dropCopies = () => removeTree(copies);
  const modes: PullMode[] = [
    {
      name: "dockerd registry-mirrors",
      ...hostPlatform,
      pull: (img) => dockerd.pull(shortName(img)),
      forget: (img) => dockerd.removeImage(shortName(img)),
    },
    {
      // Multi-arch images: the other platform's child, through the mirror's ?ns=docker.io.
      name: "ctr --hosts-dir",
      ...hostPlatform,
      pull: (img) =>
        containerd.pullViaHostsDir(qualified(img), isIndex(img) ? { platform: `linux/${OTHER_ARCH}` } : {}),
      blobs: (img) => blobsOf(isIndex(img) ? child(img, OTHER_ARCH) : child(img)),
      forget: (img) => containerd.removeImage(qualified(img)),
    },
    {
      name: "ctr --plain-http",
      ...hostPlatform,
      pull: (img) => containerd.pullPlainHttp(direct(img)),
      forget: (img) => containerd.removeImage(direct(img)),
    },
    {
      name: "podman registries.conf",
      ...hostPlatform,
      pull: (img) => podman.pull(qualified(img)),
      forget: (img) => podman.removeImage(qualified(img)),
    },
    {
      // Without --all, skopeo copies (and reports) the host platform's manifest.
      name: "skopeo --registries-conf",
      ...hostPlatform,
      expected: (img) => child(img).digest,
      pull: async (img) => skopeo.copyViaMirror(qualified(img), await copyDir(img)),
      forget: dropCopies,
    },
    {
      // --all: every manifest of an index (attestation included) and every blob.
      name: "skopeo direct --all",
      expected: (img) => img.manifest.digest,
      manifests: (img) => img.manifests.length,
      blobs: (img) => img.blobs.map((b) => b.digest),
      pull: async (img) => {
        const dest = await copyDir(img);
        const digestFile = `${dest}.digest`;
        const src = `docker://${direct(img)}`;
        await skopeo.skopeo([
          "copy",
          "--quiet",
          "--all",
          "--src-tls-verify=false",
          "--digestfile",
          digestFile,
          src,
          `dir:${dest}`,
        ]);
        return (await readFile(digestFile, "utf8")).trim();
      },
      forget: dropCopies,
    },
  ];
  return Object.fromEntries(modes.map((m) => [m.name, m])) as Record<ModeName, PullMode>;
}

/** What hubmirror answered 200 to, for proving that it served a pull. */
async function served(mirror: MirrorProcess): Promise<{ manifests: number; blobs: number }> {
  const blobs = (status: string) => mirror.metric(SERVED, { method: "GET", route: "blobs", status });
  return {
    manifests: await mirror.metric(SERVED, { method: "GET", route: "manifests", status: "200" }),
    // A 307 to object storage or a CDN is hubmirror answering too.
    blobs: (await blobs("200")) + (await blobs("307")),
  };
}

/**
 * Pulls `img` with `mode`: asserts the digest, and that hubmirror answered at least the manifest and blob GETs the
 * pull needs; then forgets the image, so the client's next pull of anything starts from an empty store.
 */
export async function pullThrough(mode: PullMode, img: TestImage, mirror: MirrorProcess): Promise<void> {
  const before = await served(mirror);
  const digest = await mode.pull(img);
  const after = await served(mirror);
  const what = `${mode.name} ${img.repo}`;
  assert.equal(digest, mode.expected(img), `${what}: pulled digest`);
  assert.ok(
    after.manifests - before.manifests >= mode.manifests(img),
    `${what}: manifests served by hubmirror`,
  );
  assert.ok(after.blobs - before.blobs >= mode.blobs(img).length, `${what}: blobs served by hubmirror`);
  await mode.forget(img);
}

/**
 * Pulls every image with `mode` from a cold cache, runs `between` (waits for background work), pulls them again,
 * and counts the warm pull's blob GETs that hubmirror answered with a redirect, against the blobs the mode needs.
 */
export async function pullColdThenWarm(
  mode: PullMode,
  images: TestImage[],
  mirror: MirrorProcess,
  between: () => Promise<void> = async () => {},
): Promise<{ redirected: number; wanted: number }> {
  const redirects = () =>
    mirror.metric("hubmirror_cache_requests_total", { kind: "blob", result: "redirect" });
  for (const img of images) await pullThrough(mode, img, mirror);
  await mirror.settled();
  await between();
  const before = await redirects();
  for (const img of images) await pullThrough(mode, img, mirror);
  return {
    redirected: (await redirects()) - before,
    wanted: images.reduce((n, img) => n + mode.blobs(img).length, 0),
  };
}
