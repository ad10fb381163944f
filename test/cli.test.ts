import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { SqliteStore } from "../src/metadata/sqlite-store.js";
import type { Digest } from "../src/reference/reference.js";
import { FakeHub } from "./fakes/fake-hub.js";
import { MirrorProcess } from "./mirror-process.js";

const run = promisify(execFile);
const CLI = ["--import", "tsx", "src/cli.ts"];

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("command line", () => {
  let dir: string;
  let hub: FakeHub;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hubmirror-cli-"));
    hub = await new FakeHub().start();
  });
  after(async () => {
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("prints usage, and refuses unknown commands and flags", async () => {
    const help = await cli("--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: hubmirror/);
    assert.match(help.stdout, /serve/);
    assert.match(help.stdout, /offload/);
    const serveHelp = await cli("serve", "--help");
    for (const flag of [
      "--config",
      "--listen",
      "--data",
      "--upstream",
      "--upstream-for",
      "--storage",
      "--redirect",
      "--offload",
    ]) {
      assert.match(serveHelp.stdout, new RegExp(flag));
    }
    assert.equal((await cli("pull")).code, 2);
    const flag = await cli("serve", "--nope");
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /--nope/);
  });

  it("stops at start on a bad config, naming the key", async () => {
    const file = join(dir, "bad.yaml");
    await writeFile(file, "cache:\n  tagTtl: 5m\n  ttl: 3\nupstream:\n  retries: lots\n");
    const res = await cli("serve", "--config", file);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /cache\.ttl: unknown key/);
    assert.match(res.stderr, /upstream\.retries/);
    const env = await run(process.execPath, [...CLI, "serve"], {
      env: { ...process.env, HUBMIRROR_LISTEN: "nope" },
    })
      .then(() => 0)
      .catch((e: { code: number; stderr: string }) => (/listen/.test(e.stderr) ? e.code : -1));
    assert.equal(env, 2);
    const unknown = await cli("serve", "--upstream-for", "ghcr.io", "--upstream-for", "example.com");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /upstreams\.1\.url: required: example\.com is not a well-known registry/);
    const storage = await cli("serve", "--storage", "s3://Bad_Bucket");
    assert.equal(storage.code, 2);
    assert.match(storage.stderr, /storage\.url: invalid bucket name/);
    const unreachable = await cli(
      "serve",
      "--data",
      join(dir, "s3-down"),
      "--storage",
      "s3://cache?endpoint=http://127.0.0.1:9",
    );
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot open storage: .*http:\/\/127\.0\.0\.1:9.*bucket "cache"/);
    assert.doesNotMatch(unreachable.stderr, /\n\s+at /, "a message, not a stack trace");
    const redirect = await cli("serve", "--redirect", "presigned");
    assert.equal(redirect.code, 2);
    assert.match(redirect.stderr, /presigned redirects need object storage/);
  });

  it("offload status counts synced, pending and failed blobs and their bytes", async () => {
    const data = join(dir, "offload-status");
    const none = await cli("offload", "status", "--data", data);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no hubmirror database/);
    await mkdir(data);
    const meta = new SqliteStore(join(data, "hubmirror.db"));
    const d = (c: string) => `sha256:${c.repeat(64)}` as Digest;
    await meta.putBlob(d("1"), 3 << 20, "blob");
    await meta.putBlob(d("2"), 1 << 20, "blob");
    await meta.putBlob(d("3"), 2 << 20, "blob");
    await meta.putBlob(d("4"), 5 << 20, "blob");
    await meta.setLocation(d("1"), "offloaded");
    await meta.offloadFailed(d("2"), "unreachable", () => Date.now() + 60_000);
    await meta.close();
    const res = await cli("offload", "status", "--data", data, "--json");
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), {
      target: null,
      synced: { count: 1, bytes: 3 << 20 },
      pending: { count: 2, bytes: 7 << 20 },
      failed: { count: 1, bytes: 1 << 20 },
    });
    const text = await cli("offload", "status", "--data", data);
    assert.match(text.stdout, /synced\s+1 blobs\s+3\.0 MiB/);
    assert.match(text.stdout, /pending\s+2 blobs\s+7\.0 MiB/);
  });

  it("on SIGTERM lets a running transfer finish, commits it, and exits 0", async () => {
    const content = randomBytes(6 << 20);
    const digest = hub.addBlob(content);
    hub.throttle = 8 << 20;
    const data = join(dir, "graceful");
    const mirror = await MirrorProcess.start({ upstream: hub.url, data });
    try {
      const res = await fetch(`${mirror.url}/v2/library/g/blobs/${digest}`);
      const body = res.arrayBuffer();
      await new Promise((ok) => setTimeout(ok, 200));
      const exited = mirror.stopped();
      await mirror.stop();
      assert.deepEqual(await exited, [0, null]);
      assert.ok(Buffer.from(await body).equals(content), "the client got the whole blob");
    } finally {
      hub.throttle = 0;
      await mirror.stop();
    }
    const again = await MirrorProcess.start({ upstream: hub.url, data });
    try {
      const res = await fetch(`${again.url}/v2/library/g/blobs/${digest}`);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(content));
      assert.equal(hub.count("GET", new RegExp(`/cdn/${digest}`)), 1, "served from the cache after restart");
    } finally {
      await again.stop();
    }
  });
});
