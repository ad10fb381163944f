// `hubmirror gc` and `hubmirror purge` end to end: skopeo pulls real images through a real hubmirror process from
// the Docker-Hub-like upstream (Distribution behind a token server); the commands run as the CLI against it. A dry
// run changes no file and no index row, the real run frees exactly what the dry run listed, and a purge of one
// image keeps the base layer it shares with others: pulls of those send nothing upstream, pulls of the purged one
// fetch it again (counted on the registry's access log).
//   bash test/netns-run.sh node --import tsx --test test/e2e/gc-purge.test.ts
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { GcReport } from "../../src/lifecycle/gc.js";
import type { GcItem } from "../../src/lifecycle/gc-steps.js";
import type { PurgeReport } from "../../src/lifecycle/purge.js";
import type { Digest } from "../../src/reference/reference.js";
import { tempName } from "../../src/storage/temp-files.js";
import { blobPath } from "../../src/store/layout.js";
import { assertLoopbackOnly } from "../clients/netns.js";
import { Skopeo } from "../clients/skopeo.js";
import { fileTree, indexRows, sql } from "../fakes/lifecycle.js";
import type { TestImage } from "../fixtures/images.js";
import { sha256Digest } from "../helpers.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { type Hub, startHub } from "./stack.js";

const run = promisify(execFile);
const HOST_ARCH = process.arch === "x64" ? "amd64" : process.arch;
const BLOB_GET = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", "src/cli.ts", ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const id = (i: GcItem) => `${i.kind} ${i.tag ?? i.path ?? i.digest}`;

describe("gc and purge with a real upstream, skopeo and the CLI", { timeout: 180_000 }, () => {
  let hub: Hub;
  let mirror: TempMirrorProcess;
  let skopeo: Skopeo;
  let copies = 0;
  let server: string;
  before(
    async () => {
      assertLoopbackOnly();
      hub = await startHub();
      mirror = await startMirrorProcess(hub.registry.url, { cache: { gc: { interval: 0, grace: 0 } } });
      server = mirror.process.url;
      skopeo = await Skopeo.create({ mirrorUrl: server });
    },
    { timeout: 60_000 },
  );
  after(async () => {
    await skopeo?.stop();
    await mirror?.stop();
    await hub?.stop();
  });

  const pull = async (img: TestImage) =>
    skopeo.copyViaMirror(`docker.io/${img.repo}:latest`, join(skopeo.dir, `copy-${copies++}`));
  /** Blob digests the upstream registry answered with content since the log was cleared. */
  const upstreamBlobGets = async () =>
    (await hub.registry.accessLog())
      .filter((r) => r.method === "GET" && r.status === 200)
      .flatMap((r) => BLOB_GET.exec(r.path)?.[1] ?? []);
  const json = async <T>(...args: string[]): Promise<T> => {
    const res = await cli(...args, "--server", server, "--json");
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(res.stdout) as T;
  };

  test("gc --dry-run changes nothing; gc frees exactly what it listed; cached images still pull locally", async () => {
    const { "docker-v2": dockerV2, oci, "docker-list": list } = hub.catalogue;
    for (const img of [dockerV2, oci, list]) await pull(img);
    await mirror.process.settled();
    // Garbage: a layer of the other platform fetched by digest (no stored manifest references it), a content file
    // the index never heard of, a spool file of a dead writer, a tag whose manifest is not stored.
    const other = list.manifests.find((m) => m.platform && m.platform.architecture !== HOST_ARCH);
    assert.ok(other, "docker-list has another platform");
    const stray = {
      digest: (JSON.parse(other.body.toString()) as { layers: { digest: string }[] }).layers[1]?.digest,
    };
    assert.ok(stray.digest, "the other platform has a layer of its own");
    const res = await fetch(`${server}/v2/${list.repo}/blobs/${stray.digest}`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const orphanBytes = randomBytes(2048);
    const orphan = blobPath(sha256Digest(orphanBytes) as Digest);
    await mkdir(join(mirror.data, "storage", orphan, ".."), { recursive: true });
    await writeFile(join(mirror.data, "storage", orphan), orphanBytes);
    const spoolFile = join(mirror.data, "spool", tempName().replace(`-${process.pid}-`, "-999999999-"));
    await writeFile(spoolFile, "partial");
    const ghost = sha256Digest("not stored");
    sql(
      mirror.data,
      "INSERT INTO tags (registry, repo, tag, digest, checked_at, last_pull) VALUES (?, ?, ?, ?, ?, ?)",
      "docker.io",
      "library/ghost",
      "v1",
      ghost,
      Date.now(),
      Date.now(),
    );
    await mirror.process.settled();
    await cli("cache", "status", "--server", server); // flushes the batched access times

    const files = await fileTree(mirror.data);
    const rows = indexRows(mirror.data);
    const dry = await json<GcReport>("gc", "--dry-run");
    assert.deepEqual(await fileTree(mirror.data), files, "the dry run touched no file");
    assert.deepEqual(indexRows(mirror.data), rows, "the dry run changed no index row");
    assert.deepEqual(
      dry.items.map(id).sort(),
      [
        `unreferenced ${stray.digest}`,
        `orphan-file ${orphan}`,
        `temp-file ${spoolFile}`,
        "stale-tag docker.io/library/ghost:v1",
      ].sort(),
    );
    const text = await cli("gc", "--dry-run", "--server", server);
    assert.match(text.stdout, /^gc \(dry run\): would free 4 items, /);
    assert.match(text.stdout, /unreferenced blobs\s+1/);
    assert.match(text.stdout, new RegExp(`orphan-file\\s+${orphan}`));

    const real = await json<GcReport>("gc");
    assert.deepEqual(
      real.items.map(id).sort(),
      dry.items.map(id).sort(),
      "freed exactly what the dry run listed",
    );
    assert.equal(real.freedBytes, dry.freedBytes);
    const after = await fileTree(mirror.data);
    assert.ok(!(join("storage", blobPath(stray.digest as Digest)) in after));
    assert.ok(!(join("storage", orphan) in after));
    assert.ok(!(join("spool", spoolFile.split("/").at(-1) as string) in after));

    await hub.registry.clearAccessLog();
    for (const img of [dockerV2, oci, list]) await pull(img);
    assert.deepEqual(await hub.registry.accessLog(), [], "cached images pull without any upstream request");
  });

  test("purge of a tag keeps the base layer other images use; pulls afterwards fetch only what was purged", async () => {
    const { "docker-v2": dockerV2, oci } = hub.catalogue;
    const base = dockerV2.blobs.find((b) => oci.blobs.some((o) => o.digest === b.digest));
    assert.ok(base, "docker-v2 and oci share a base layer");
    const report = await json<PurgeReport>("purge", "library/docker-v2:latest");
    assert.deepEqual(report.tags, ["docker.io/library/docker-v2:latest"]);
    const own = [
      dockerV2.manifest.digest,
      ...dockerV2.blobs.map((b) => b.digest).filter((d) => d !== base.digest),
    ];
    assert.deepEqual(report.removed.map((r) => r.digest).sort(), own.sort());
    assert.ok(
      report.kept.some((k) => k.digest === base.digest && /^used by docker\.io\/library\//.test(k.why)),
    );

    await hub.registry.clearAccessLog();
    await pull(oci);
    assert.deepEqual(await hub.registry.accessLog(), [], "the image sharing the base pulls locally");
    await pull(dockerV2);
    const fetched = await upstreamBlobGets();
    assert.deepEqual(
      fetched.sort(),
      own.filter((d) => d !== dockerV2.manifest.digest).sort(),
      "only the purged",
    );
    assert.ok(!fetched.includes(base.digest), "the base layer never left");
  });

  test("purge of a repository; a pull afterwards fetches it from upstream again", async () => {
    const { oci } = hub.catalogue;
    const res = await cli("purge", "library/oci", "--server", server);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^purged docker\.io\/library\/oci: 1 tags, \d+ objects, [\d.]+ MiB freed/);
    assert.match(
      res.stdout,
      /kept\s+sha256:[0-9a-f]{64}\s+used by docker\.io\/library\//,
      "the shared base stays",
    );
    await hub.registry.clearAccessLog();
    await pull(oci);
    const fetched = await upstreamBlobGets();
    assert.ok(
      fetched.length > 0 && fetched.length < oci.blobs.length,
      `fetched again but the base: ${fetched}`,
    );
  });

  test("an unparsable image reference is an error naming it", async () => {
    const res = await cli("purge", "library/Bad Name:x", "--server", server);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /answered 400: .*library\/Bad Name/);
  });
});
