// `hubmirror verify [--repair]`, the command as a process, against hubmirror (a child process) in front of the real
// upstream (Distribution behind a token server), filled by skopeo pulls. Damage is done to the files on disk, in
// the filesystem driver's layout; what is fetched again is read from the registry's access log.
//   bash test/netns-run.sh node --import tsx --test test/e2e/verify.test.ts
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Digest } from "../../src/reference/reference.js";
import { blobPath } from "../../src/store/layout.js";
import { removeTree, tempDir } from "../clients/proc.js";
import { Skopeo } from "../clients/skopeo.js";
import type { TestImage } from "../fixtures/images.js";
import { startMirrorProcess, type TempMirrorProcess } from "../mirror-process.js";
import { type Hub, startHub } from "./stack.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

let hub: Hub;
let mirror: TempMirrorProcess;
let skopeo: Skopeo;
let copies: string;

before(async () => {
  hub = await startHub();
  mirror = await startMirrorProcess(hub.registry.url);
  skopeo = await Skopeo.create({ mirrorUrl: mirror.process.url });
  copies = await tempDir("verify-copies");
});
after(async () => {
  await skopeo?.stop();
  await mirror?.stop();
  await hub?.stop();
  if (copies) await removeTree(copies);
});

interface Run {
  code: number;
  stdout: string;
  /** The JSON lines (stdout is not a terminal): progress and object events, then `done`. */
  events: Record<string, unknown>[];
}

/** `hubmirror verify …` against the mirror; under `script` when `tty`, so that stdout is a terminal. */
function verify(args: string[] = [], tty = false): Promise<Run> {
  const command = [
    process.execPath,
    "--import",
    "tsx",
    "src/cli.ts",
    "verify",
    "--server",
    mirror.process.url,
    ...args,
  ];
  const [file, argv] = tty
    ? ["script", ["-qec", command.join(" "), "/dev/null"]]
    : [command[0] as string, command.slice(1)];
  return new Promise((resolve, reject) => {
    const child = execFile(file, argv, { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout) => {
      if (child.killed || (err && typeof err.code !== "number")) return reject(err);
      const events = tty
        ? []
        : stdout
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((l) => JSON.parse(l));
      resolve({ code: err ? (err.code as number) : 0, stdout, events });
    });
    // script copies its stdin to the command's terminal until EOF, and waits for it.
    child.stdin?.end();
  });
}

const file = (digest: string) => join(mirror.data, "storage", blobPath(digest as Digest));
const fileDigest = async (digest: string) =>
  `sha256:${createHash("sha256")
    .update(await readFile(file(digest)))
    .digest("hex")}`;
const done = (r: Run) => r.events.at(-1) as Record<string, unknown>;
const bad = (r: Run) => r.events.filter((e) => e.type === "object");
let pulls = 0;
const pull = async (img: TestImage) => {
  await skopeo.copyViaMirror(`docker.io/${img.repo}:latest`, join(copies, String(pulls++)));
  await mirror.process.settled();
};

/** GETs upstream answered since the access log was cleared, as `path` strings. */
async function upstreamGets(): Promise<string[]> {
  return (await hub.registry.accessLog())
    .filter((r) => r.method === "GET" && r.status === 200)
    .map((r) => r.path);
}

describe("hubmirror verify", { timeout: 180_000 }, () => {
  test("a flipped byte in a stored layer: found, exit 1; --repair fetches that blob again, once", async () => {
    const img = hub.catalogue["docker-v2"];
    await pull(img);
    const clean = await verify();
    assert.equal(clean.code, 0, clean.stdout);
    assert.deepEqual([done(clean).type, done(clean).corrupt, done(clean).missing], ["done", [], []]);
    assert.ok(clean.events.some((e) => e.type === "progress"));

    const layer = img.blobs.reduce((a, b) => (b.size > a.size ? b : a));
    const fd = await open(file(layer.digest), "r+");
    const byte = Buffer.alloc(1);
    await fd.read(byte, 0, 1, 1000);
    byte[0] = (byte[0] as number) ^ 0x20;
    await fd.write(byte, 0, 1, 1000);
    await fd.close();

    const found = await verify();
    assert.equal(found.code, 1, "corrupt objects remain: exit status 1");
    assert.deepEqual(
      bad(found).map((e) => [e.digest, e.result]),
      [[layer.digest, "corrupt"]],
      "exactly the damaged blob",
    );
    assert.deepEqual(done(found).corrupt, [layer.digest]);
    assert.equal(done(found).ok, (done(found).objects as number) - 1);

    const shown = await verify([], true);
    assert.equal(shown.code, 1);
    assert.match(shown.stdout, new RegExp(`corrupt +blob +${layer.digest}`));
    assert.match(
      shown.stdout,
      /verified \d+ objects .*: \d+ ok, 1 corrupt, 0 missing \(hubmirror verify --repair/,
    );

    await hub.registry.clearAccessLog();
    const repaired = await verify(["--repair"]);
    assert.equal(repaired.code, 0, repaired.stdout);
    assert.deepEqual(done(repaired).repaired, [layer.digest]);
    assert.deepEqual(done(repaired).unrepaired, []);
    assert.deepEqual(
      (await upstreamGets()).filter((p) => p.includes("/blobs/")),
      [`/v2/${img.repo}/blobs/${layer.digest}`],
      "one upstream GET, for that blob",
    );
    assert.equal(await fileDigest(layer.digest), layer.digest, "the file hashes right again");

    await hub.registry.clearAccessLog();
    await pull(img);
    assert.deepEqual(
      (await upstreamGets()).filter((p) => p.includes("/blobs/")),
      [],
      "the pull is served from the cache",
    );
    const after = await verify();
    assert.equal(after.code, 0);
    assert.deepEqual([done(after).corrupt, done(after).missing], [[], []]);
  });

  test("a corrupt manifest and a missing file: found, and repaired from upstream; the next pull works", async () => {
    const img = hub.catalogue.oci;
    await pull(img);
    const manifest = img.manifest.digest;
    const config = img.blobs[0]?.digest as string;
    const fd = await open(file(manifest), "r+");
    await fd.write(Buffer.from(" "), 0, 1, 0);
    await fd.close();
    await rm(file(config));

    const found = await verify();
    assert.equal(found.code, 1);
    const results = (r: Run) =>
      bad(r)
        .map((e) => [e.digest, e.result, e.repair ?? null])
        .sort();
    assert.deepEqual(
      results(found),
      [
        [manifest, "corrupt", null],
        [config, "missing", null],
      ].sort(),
    );

    await hub.registry.clearAccessLog();
    const repaired = await verify(["--repair"]);
    assert.equal(repaired.code, 0, repaired.stdout);
    assert.deepEqual(
      results(repaired),
      [
        [manifest, "corrupt", "repaired"],
        [config, "missing", "repaired"],
      ].sort(),
    );
    assert.deepEqual(
      (await upstreamGets()).sort(),
      [`/v2/${img.repo}/blobs/${config}`, `/v2/${img.repo}/manifests/${manifest}`].sort(),
    );
    for (const d of [manifest, config]) assert.equal(await fileDigest(d), d);

    await pull(img);
    const after = await verify();
    assert.equal(after.code, 0);
    assert.deepEqual([done(after).corrupt, done(after).missing], [[], []]);
  });
});
