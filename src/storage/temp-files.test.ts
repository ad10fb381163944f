import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { staleTempFile, staleTempFiles, tempName } from "./temp-files.js";

describe("temp files", () => {
  it("while serving, this process's own files are live however idle; at start they are a predecessor's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hubmirror-temp-"));
    const own = join(dir, tempName());
    await writeFile(own, "x");
    const hoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(own, hoursAgo, hoursAgo);
    assert.equal(await staleTempFile(own, 3600_000, true), undefined);
    assert.match((await staleTempFile(own, 3600_000, false))?.why ?? "", /earlier process/);
  });

  it("names why a file is garbage: a dead writer of this host, or idle past the limit", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hubmirror-temp-"));
    const deadPid = spawnSync("true").pid as number;
    const dead = tempName().replace(`-${process.pid}-`, `-${deadPid}-`);
    const idle = `otherhost-1-${randomUUID()}`;
    const busy = `otherhost-1-${randomUUID()}`;
    for (const n of [dead, idle, busy]) await writeFile(join(dir, n), "x");
    const hoursAgo = new Date(Date.now() - 2 * 3600_000);
    await utimes(join(dir, idle), hoursAgo, hoursAgo);
    const stale = await staleTempFiles(dir, 3600_000, true);
    assert.deepEqual(
      stale.map((s) => [s.path, s.why]).sort(),
      [
        [join(dir, dead), `its writer (pid ${deadPid} on this host) is gone`],
        [join(dir, idle), "nobody wrote to it for 120 min"],
      ].sort(),
    );
  });
});
