// The soak (issue 12) cut short: `npm run bench -- --smoke --only soak` with 20 s of load, 10 clients (one of them
// skopeo) and 3 SIGKILLs of the mirror. Asserts its invariants from the JSON results: no client accepted wrong
// bytes, the mirror restarted after every kill and the kills hit clients, every committed blob verifies, every tag
// resolves, the final process's descriptors are back to the baseline. Its memory is reported, not asserted (a
// 20 s run says little about a leak; the 5-minute `--only soak` run does).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Results } from "./report.js";

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const KILLS = 3;

test("soak: 20 s of pulls with 3 SIGKILLs of the mirror", { timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "hubmirror-soak-test-"));
  try {
    const out = join(dir, "results.json");
    const args = ["--smoke", "--only", "soak", "--soak-duration", "20s", "--soak-kills", String(KILLS)];
    await run(process.execPath, ["--import", "tsx", "bench/run.ts", ...args, "--out", out], {
      cwd: REPO_ROOT,
      timeout: 170_000,
      maxBuffer: 16 << 20,
    }).catch((err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`bench --only soak failed: ${err.message}\n${err.stdout}\n${err.stderr}`);
    });
    const results = JSON.parse(await readFile(out, "utf8")) as Results;
    assert.deepEqual(results.errors, []);
    const value = (id: string) => {
      const r = results.rows.find((row) => row.id === id);
      assert.ok(r, `row ${id}`);
      return r;
    };
    const v = (id: string) => value(id).hubmirror;
    const details = results.details.soak as Record<string, unknown>;
    t.diagnostic(
      `pulls ${v("soak.pulls")} (skopeo ${v("soak.skopeoPulls")}), fills ${v("soak.fills")}, ` +
        `cut ${v("soak.cutErrors")}, refused ${v("soak.refusedErrors")}, errors while up ` +
        `${v("soak.upErrors")}, verified ${v("soak.verified")}; VmRSS ${v("soak.rss").toFixed(1)} MiB ` +
        `(baseline ${value("soak.rss").registry.toFixed(1)}), fds ${v("soak.fds")} (baseline ` +
        `${value("soak.fds").registry})`,
    );

    assert.equal(v("soak.wrong"), 0, `wrong bytes accepted: ${JSON.stringify(details.wrong)}`);
    assert.equal(v("soak.kills"), KILLS);
    assert.equal(v("soak.restarts"), KILLS, "restarted on the same data after every kill");
    assert.ok(v("soak.cutErrors") + v("soak.refusedErrors") > 0, "the kills hit clients");
    assert.ok(v("soak.pulls") > 0 && v("soak.skopeoPulls") > 0, "HTTP clients and skopeo pulled");
    assert.ok(v("soak.fills") > 0, "the mirror filled from upstream");
    assert.ok(v("soak.verified") > 0, "hubmirror verify checked the store");
    assert.equal(v("soak.verifyBad"), 0, `verify: ${JSON.stringify(details.verify)} ${details.diskBad}`);
    assert.equal(v("soak.tagsUnresolved"), 0, `tags: ${JSON.stringify(details.unresolvedTags)}`);
    const fds = value("soak.fds");
    assert.ok(fds.hubmirror <= (fds.reference?.value ?? 0), `fds ${fds.hubmirror}, baseline ${fds.registry}`);
    for (const target of results.targets.filter((x) => x.target.startsWith("soak:")))
      t.diagnostic(`${target.met ? "met" : "MISSED"} ${target.target}: ${target.value}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
