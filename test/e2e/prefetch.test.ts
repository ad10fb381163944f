// `hubmirror prefetch` end to end: the CLI (a child process) drives a hubmirror child process in front of the real
// upstream (Distribution behind a token server), and real clients then pull what it prefetched. Upstream requests
// are counted on the registry's access log, stored bytes on the mirror's disk.
//   bash test/netns-run.sh node --import tsx --test test/e2e/prefetch.test.ts
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { PrefetchSummary } from "../../src/lifecycle/prefetch-events.js";
import { Containerd } from "../clients/containerd.js";
import { assertLoopbackOnly } from "../clients/netns.js";
import { Skopeo } from "../clients/skopeo.js";
import type { ManifestFile, TestImage } from "../fixtures/images.js";
import type { AccessRecord } from "../fixtures/upstream-registry.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { type Hub, startHub, verifiedStore } from "./stack.js";

const run = promisify(execFile);
const BLOB_GET = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;
const MANIFEST = /^\/v2\/.+\/manifests\/[^/]+$/;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

type Event = { type: string; [key: string]: unknown };

/** The config and layer digests of an image manifest. */
function blobsOf(m: ManifestFile): string[] {
  const json = JSON.parse(m.body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
  return [json.config.digest, ...json.layers.map((l) => l.digest)];
}

function child(img: TestImage, os: string, arch: string): ManifestFile {
  const m = img.manifests.find((m) => m.platform?.os === os && m.platform.architecture === arch);
  if (!m) throw new Error(`${img.repo}: no ${os}/${arch} manifest`);
  return m;
}

const blobGets = (log: AccessRecord[]) =>
  log.filter((r) => r.method === "GET" && r.status === 200).flatMap((r) => BLOB_GET.exec(r.path)?.[1] ?? []);
const summaryOf = (log: AccessRecord[]) => log.map((r) => `${r.method} ${r.path} ${r.status}`).join("\n");

describe("hubmirror prefetch, against the real upstream", { timeout: 180_000 }, () => {
  let hub: Hub;
  let mirror: TempMirrorProcess;
  let skopeo: Skopeo;
  let containerd: Containerd;
  const started: { stop(): Promise<void> }[] = [];

  before(
    async () => {
      assertLoopbackOnly();
      hub = await startHub();
      started.push(hub);
      mirror = await startMirrorProcess(hub.registry.url);
      started.push(mirror);
      skopeo = await Skopeo.create({ mirrorUrl: mirror.process.url });
      started.push(skopeo);
      containerd = await Containerd.start({ mirrorUrl: mirror.process.url });
      started.push(containerd);
    },
    { timeout: 60_000 },
  );
  after(async () => {
    for (const part of started.reverse()) await part.stop();
  });

  /** `hubmirror prefetch --server <mirror> ARGS`, stdout a pipe (JSON lines); `tty` runs it on a terminal. */
  async function prefetch(args: string[], tty = false): Promise<CliResult> {
    const argv = ["--import", "tsx", "src/cli.ts", "prefetch", "--server", mirror.process.url, ...args];
    const cmd = tty
      ? ["script", ["-qefc", [process.execPath, ...argv].map((a) => `'${a}'`).join(" "), "/dev/null"]]
      : [process.execPath, argv];
    try {
      const { stdout, stderr } = await run(cmd[0] as string, cmd[1] as string[], { timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as CliResult;
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  const events = (r: CliResult): Event[] =>
    r.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Event);
  const done = (r: CliResult) => events(r).at(-1) as Event & PrefetchSummary;

  test("one platform of an OCI index: only its blobs are fetched, and skopeo's pull of it sends nothing upstream", async () => {
    const img = hub.catalogue["oci-index"];
    const amd64 = child(img, "linux", "amd64");
    const others = img.manifests.filter((m) => m !== amd64 && m !== img.manifest);
    const wanted = new Set(blobsOf(amd64));
    const unwanted = others.flatMap(blobsOf).filter((d) => !wanted.has(d));

    const r = await prefetch(["--platform", "linux/amd64", "library/oci-index"]);
    assert.equal(r.code, 0, r.stderr);
    const evs = events(r);
    for (const type of ["start", "image", "blob-start", "blob-done", "image-done", "progress", "done"])
      assert.ok(
        evs.some((e) => e.type === type),
        `a ${type} event`,
      );
    const image = evs.find((e) => e.type === "image");
    assert.deepEqual(image?.platforms, ["linux/amd64"]);
    assert.equal(image?.layers, wanted.size - 1);
    const s = done(r);
    assert.deepEqual(s.images, { total: 1, ok: 1, failed: 0 });
    assert.deepEqual(s.blobs, { total: wanted.size, fetched: wanted.size, cached: 0 });

    const log = await hub.registry.accessLog();
    assert.deepEqual(new Set(blobGets(log)), wanted, summaryOf(log));
    assert.equal(blobGets(log).length, wanted.size, "each blob once");
    const manifests = log
      .filter((r) => r.method === "GET" && r.status === 200 && MANIFEST.test(r.path))
      .map((r) => r.path);
    assert.deepEqual(manifests.sort(), [
      "/v2/library/oci-index/manifests/latest",
      `/v2/library/oci-index/manifests/${amd64.digest}`,
    ]);

    // What the summary says was fetched is what sits on disk, verified, and nothing of the other platforms.
    await mirror.process.settled();
    const stored = await verifiedStore(mirror.data);
    for (const d of unwanted) assert.ok(!stored.has(d), `${d} (another platform) not stored`);
    const manifestDigests = new Set(img.manifests.map((m) => m.digest));
    let bytes = 0;
    for (const d of stored) {
      if (manifestDigests.has(d)) continue;
      assert.ok(wanted.has(d), `${d} stored`);
      bytes += (
        await stat(join(mirror.data, "storage", "blobs", "sha256", d.slice(7, 9), d.slice(7), "data"))
      ).size;
    }
    assert.equal(s.bytes.fetched, bytes);
    assert.equal(s.bytes.total, bytes);
    assert.equal(await mirror.process.metric("hubmirror_prefetch_bytes_total"), bytes);

    await hub.registry.clearAccessLog();
    const hits = () =>
      mirror.process.metric("hubmirror_cache_requests_total", { kind: "blob", result: "hit" });
    const hitsBefore = await hits();
    const dest = join(skopeo.dir, "oci-index-amd64");
    const digestFile = `${dest}.digest`;
    await skopeo.skopeo([
      ...["--override-os", "linux", "--override-arch", "amd64"],
      ...[
        "copy",
        "--quiet",
        "--digestfile",
        digestFile,
        "docker://docker.io/library/oci-index:latest",
        `dir:${dest}`,
      ],
    ]);
    assert.equal((await readFile(digestFile, "utf8")).trim(), amd64.digest);
    assert.ok((await hits()) - hitsBefore >= wanted.size, "skopeo got every blob from hubmirror's cache");
    const warm = await hub.registry.accessLog();
    assert.deepEqual(warm, [], `no upstream request at all:\n${summaryOf(warm)}`);
  });

  test("one platform of a Docker manifest list: ctr pulls it (linux/arm64) without an upstream request", async () => {
    const img = hub.catalogue["docker-list"];
    const arm64 = child(img, "linux", "arm64");
    const amd64Own = blobsOf(child(img, "linux", "amd64")).filter((d) => !blobsOf(arm64).includes(d));
    await hub.registry.clearAccessLog();
    const r = await prefetch(["--platform", "linux/arm64", "docker-list:latest"]);
    assert.equal(r.code, 0, r.stderr);
    const s = done(r);
    // The base layer is the OCI index's too: cached by the test before.
    assert.deepEqual(s.blobs, { total: 3, fetched: 2, cached: 1 });
    const log = await hub.registry.accessLog();
    assert.equal(blobGets(log).length, 2, summaryOf(log));
    for (const d of amd64Own) assert.ok(!blobGets(log).includes(d), "amd64 content not fetched");

    await mirror.process.settled();
    await hub.registry.clearAccessLog();
    const digest = await containerd.pullViaHostsDir("docker.io/library/docker-list:latest", {
      platform: "linux/arm64",
    });
    assert.equal(digest, img.manifest.digest);
    const warm = await hub.registry.accessLog();
    assert.deepEqual(warm, [], `no upstream request at all:\n${summaryOf(warm)}`);
  });

  test("resumable: a second run finds everything cached and sends nothing upstream", async () => {
    await mirror.process.settled();
    await hub.registry.clearAccessLog();
    const r = await prefetch(["--platform", "linux/amd64", "library/oci-index"]);
    assert.equal(r.code, 0, r.stderr);
    const blobs = blobsOf(child(hub.catalogue["oci-index"], "linux", "amd64"));
    assert.deepEqual(done(r).blobs, { total: blobs.length, fetched: 0, cached: blobs.length });
    assert.equal(done(r).bytes.fetched, 0);
    const cached = events(r).filter((e) => e.type === "blob-start" && e.cached === true);
    assert.equal(cached.length, blobs.length);
    // Within the tag's TTL the manifests are served from the cache too.
    const log = await hub.registry.accessLog();
    assert.deepEqual(log, [], `no upstream request at all:\n${summaryOf(log)}`);
  });

  test("a bad reference fails with a clear error and exit 1; the good images, some from --from-file, are fetched", async () => {
    const file = join(mirror.data, "..", "images.txt");
    await writeFile(file, "# images to keep warm\n\nlibrary/docker-v2:latest\n   oci   # trailing comment\n");
    await hub.registry.clearAccessLog();
    const r = await prefetch(["Not A Ref!!", "--from-file", file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /1 of 3 images failed:\n {2}Not A Ref!!: invalid .*Not A Ref!!/);
    const s = done(r);
    assert.deepEqual(s.images, { total: 3, ok: 2, failed: 1 });
    const failed = events(r).find((e) => e.type === "image-failed");
    assert.equal(failed?.image, "Not A Ref!!");

    const blobs = new Set(
      [hub.catalogue["docker-v2"], hub.catalogue.oci].flatMap((img) => blobsOf(img.manifest)),
    );
    const gets = blobGets(await hub.registry.accessLog());
    assert.equal(s.blobs.fetched, gets.length);
    assert.equal(s.blobs.fetched + s.blobs.cached, blobs.size);
    await mirror.process.settled();
    const stored = await verifiedStore(mirror.data);
    for (const d of blobs) assert.ok(stored.has(d), `${d} stored`);

    const missing = await prefetch(["--from-file", join(file, "nope")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read --from-file .*nope/);
    const platform = await prefetch(["--platform", "linux", "busybox"]);
    assert.equal(platform.code, 1);
    assert.match(platform.stderr, /invalid platform "linux"/);
  });

  test("on a terminal: a progress bar, a line per image and a summary", async () => {
    const r = await prefetch(["busybox"], true);
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /✓ busybox/);
    assert.match(r.stdout, /100% \| 1\/1 images \| 2\/2 blobs \| 1\.0\/1\.0 MiB \| [\d.]+ MiB\/s \| ETA/);
    assert.match(r.stdout, /prefetched 1 of 1 images in [\d.]+ s: 2 blobs fetched/);
    assert.doesNotMatch(r.stdout, /"type":/, "no JSON lines on a terminal");
  });
});
