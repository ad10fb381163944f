// The benchmark's smoke run (tiny sizes, ~1 s measurements) end to end, so that the harness can't rot: every row
// is there for both mirrors with sane numbers, the table prints, the JSON parses. No speed is asserted.
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

const POSITIVE = [
  "cold.mibs",
  "cold.ttfb",
  "warm.mibs",
  "warm.ttfb",
  "warm.range.mibs",
  "herd.wall",
  "herd.ttfbP50",
  "herd.ttfbMax",
  "warm16.mibs",
  "warm32.mibs",
  "manifest.tag.rps",
  "manifest.tag.p99",
  "manifest.digest.rps",
  "manifest.digest.p99",
  "routing.tag.rps",
  "routing.tag.p99",
  "routing.prefix.rps",
  "routing.prefix.p99",
  "routing.ns.rps",
  "routing.ns.p99",
  "skopeo.cold",
  "skopeo.warm",
  "verify.perGiB",
  "s3.cold.mibs",
  "s3.cold.ttfb",
  "s3.warm.mibs",
  "s3.warm.ttfb",
  "s3.fill.rss",
  "s3.fill.wall",
  "eviction.hitRatio",
  "eviction.byteHitRatio",
  "eviction.hitP99",
  "eviction.hitP50",
  "eviction.hits",
  "eviction.churnCpu",
  "eviction.cacheBytes",
  "rss.peak",
  "cpu.total",
];
const COUNTS = [
  "cold.upstreamGets",
  "herd.upstreamGets",
  "herd.verified",
  "manifest.tag.upstream",
  "manifest.tag.errors",
  "manifest.digest.upstream",
  "manifest.digest.errors",
  "routing.upstream",
  "routing.errors",
  "verify.wrong",
  "s3.cold.upstreamGets",
  "s3.fill.upstreamGets",
  "eviction.removals",
  "eviction.freed",
];
const SCENARIOS = [
  "blob-cold",
  "blob-warm",
  "herd",
  "warm-clients",
  "manifests",
  "routing",
  "skopeo",
  "verify",
  "s3",
  "eviction",
];
const WITH_REFERENCE = [
  "cold.mibs",
  "cold.ttfb",
  "warm.mibs",
  "warm.ttfb",
  "warm.range.mibs",
  "s3.cold.mibs",
  "s3.cold.ttfb",
  "s3.warm.mibs",
  "s3.warm.ttfb",
  "verify.perGiB",
];

test("npm run bench -- --smoke: every row, both mirrors, sane numbers", { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "hubmirror-bench-test-"));
  try {
    const out = join(dir, "results.json");
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "bench/run.ts", "--smoke", "--out", out],
      { cwd: REPO_ROOT, timeout: 170_000, maxBuffer: 16 << 20 },
    ).catch((err: Error & { stdout?: string; stderr?: string }) => {
      throw new Error(`bench --smoke failed: ${err.message}\n${err.stdout}\n${err.stderr}`);
    });
    const results = JSON.parse(await readFile(out, "utf8")) as Results;
    assert.equal(results.mode, "smoke");
    assert.deepEqual(results.errors, []);

    const rows = new Map(results.rows.map((r) => [r.id, r]));
    const perScenario = SCENARIOS.flatMap((s) => [`cpu.${s}`, `rss.${s}`]);
    assert.deepEqual([...rows.keys()].sort(), [...POSITIVE, ...COUNTS, ...perScenario].sort());
    for (const r of results.rows) {
      for (const v of [r.hubmirror, r.registry]) assert.ok(Number.isFinite(v) && v >= 0, `${r.id}: ${v}`);
      assert.ok(stdout.includes(r.label), `table row ${r.label}`);
    }
    for (const id of POSITIVE) {
      const r = rows.get(id);
      assert.ok(r && r.hubmirror > 0 && r.registry > 0, `${id}: ${r?.hubmirror} / ${r?.registry}`);
      assert.ok(r.ratio !== null && r.ratio > 0, `${id}: ratio ${r.ratio}`);
    }
    for (const id of WITH_REFERENCE) {
      const ref = rows.get(id)?.reference;
      assert.ok(ref && ref.value > 0, `${id}: reference ${JSON.stringify(ref)}`);
    }
    const clients = results.options.herdClients;
    for (const mirror of ["hubmirror", "registry"] as const) {
      assert.ok((rows.get("cold.upstreamGets")?.[mirror] ?? 0) >= 1, `${mirror}: cold fetched upstream`);
      assert.ok((rows.get("herd.upstreamGets")?.[mirror] ?? 0) >= 1, `${mirror}: herd fetched upstream`);
      for (const id of ["s3.cold.upstreamGets", "s3.fill.upstreamGets"])
        assert.ok((rows.get(id)?.[mirror] ?? 0) >= 1, `${mirror}: ${id} fetched upstream`);
      assert.equal(rows.get("herd.verified")?.[mirror], clients, `${mirror}: every herd body verified`);
    }
    assert.equal(rows.get("manifest.tag.errors")?.hubmirror, 0);
    assert.equal(rows.get("manifest.digest.errors")?.hubmirror, 0);
    // The routing rows are two hubmirrors: 6 upstreams (in `hubmirror`) and the run's, 1 upstream (`registry`).
    for (const id of ["routing.errors", "routing.upstream"]) {
      assert.deepEqual([rows.get(id)?.hubmirror, rows.get(id)?.registry], [0, 0], id);
    }
    assert.deepEqual(rows.get("routing.tag.rps")?.columns, {
      a: "6 upstreams",
      b: "1 upstream",
      ratio: "6/1",
    });
    assert.match(stdout, /6 upstreams\s+1 upstream\s+6\/1/);

    // The eviction rows are two hubmirrors: capped (in `hubmirror`) and not (`registry`); only the capped evicts.
    assert.ok((rows.get("eviction.removals")?.hubmirror ?? 0) > 0, "the capped hubmirror evicted");
    assert.equal(rows.get("eviction.removals")?.registry, 0);
    assert.ok((rows.get("eviction.hitRatio")?.hubmirror ?? 100) < 100, "a working set twice the cap misses");
    assert.equal(
      rows.get("eviction.hitRatio")?.registry,
      100,
      "without a cap, every pull after the first hits",
    );
    // verify/sha256sum rows: verify found nothing bad, and every file hashed to its name.
    assert.deepEqual([rows.get("verify.wrong")?.hubmirror, rows.get("verify.wrong")?.registry], [0, 0]);
    assert.match(stdout, /verify\s+sha256sum\s+verify\/sha256sum/);

    assert.equal(results.targets.length, 17);
    for (const t of results.targets) assert.equal(typeof t.met, "boolean", t.target);
    assert.match(stdout, /targets \(issues 4, 9, 10 and 12\):/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
