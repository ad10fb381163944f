import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runDriverSuite } from "./driver-suite.js";
import { createFsDriver } from "./fs-driver.js";
import { tempName } from "./temp-files.js";

runDriverSuite("filesystem", async () => createFsDriver(await mkdtemp(join(tmpdir(), "hubmirror-fs-"))));

describe("filesystem driver temp files at start", () => {
  it("removes only what dead writers or long-idle ones left, never a live process's upload", async () => {
    const root = await mkdtemp(join(tmpdir(), "hubmirror-fs-"));
    const uploads = join(root, "_uploads");
    await mkdir(uploads);
    const named = (pid: number) => tempName().replace(`-${process.pid}-`, `-${pid}-`);
    const deadPid = spawnSync("true").pid as number;
    const files = {
      live: named(process.ppid),
      dead: named(deadPid),
      predecessor: named(process.pid),
      idle: named(process.ppid),
      foreign: `otherhost-${process.ppid}-${randomUUID()}`,
    };
    for (const name of Object.values(files)) await writeFile(join(uploads, name), "x");
    const hoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(uploads, files.idle), hoursAgo, hoursAgo);
    await createFsDriver(root);
    assert.deepEqual((await readdir(uploads)).sort(), [files.live, files.foreign].sort());
  });
});
