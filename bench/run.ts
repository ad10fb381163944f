// `npm run bench [-- --smoke]`: hubmirror against Distribution's pull-through proxy (registry:2), same upstream,
// same run, measurements alternated; prints a table with hubmirror / registry:2 per row and writes JSON.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureTools, type Mirror, startEnv } from "./env.js";
import { procStats, quiesce } from "./measure.js";
import { type Options, parseOptions, type Scenario } from "./options.js";
import { buildResults, evaluateTargets, type Row, renderTable, writeResults } from "./report.js";
import { blobCold } from "./scenarios/blob-cold.js";
import { blobWarm } from "./scenarios/blob-warm.js";
import { type Ctx, row, type ScenarioResult } from "./scenarios/common.js";
import { eviction } from "./scenarios/eviction.js";
import { herd } from "./scenarios/herd.js";
import { manifests } from "./scenarios/manifests.js";
import { routing } from "./scenarios/routing.js";
import { s3 } from "./scenarios/s3.js";
import { skopeo } from "./scenarios/skopeo.js";
import { soak } from "./scenarios/soak.js";
import { verify } from "./scenarios/verify.js";
import { warmClients } from "./scenarios/warm-clients.js";

const RESULTS_DIR = fileURLToPath(new URL("results", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** In run order: cold rows first, while both caches are empty. */
const SCENARIO_FNS: [Scenario, (ctx: Ctx) => Promise<ScenarioResult>][] = [
  ["blob-cold", blobCold],
  ["blob-warm", blobWarm],
  ["herd", herd],
  ["warm-clients", warmClients],
  ["manifests", manifests],
  ["routing", routing], // a second hubmirror of its own, with 6 upstreams, against the run's
  ["skopeo", skopeo],
  ["verify", verify], // the run's hubmirror re-hashes its store, against sha256sum of the same files
  ["s3", s3], // its own mirrors on object storage
  ["eviction", eviction], // two hubmirrors of its own: with a size cap and without
  ["soak", soak], // its own upstream and hubmirror, killed and restarted under load; only with --only
];

function gitRevision(): { commit: string; srcDirty: boolean } {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
  try {
    return { commit: git("rev-parse", "HEAD"), srcDirty: git("status", "--porcelain", "--", "src") !== "" };
  } catch {
    return { commit: "unknown", srcDirty: true };
  }
}

const t0 = performance.now();
const log = (msg: string) =>
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}\n`);

/** CPU seconds so far: each mirror (all threads, main thread) and this process (the clients). */
function cpuNow(mirrors: Mirror[]) {
  const { user, system } = process.cpuUsage();
  const [hub, reg] = mirrors.map((m) => procStats(m.pid));
  return {
    hubmirror: hub?.cpuS ?? Number.NaN,
    hubmirrorMain: hub?.mainCpuS ?? Number.NaN,
    "registry:2": reg?.cpuS ?? Number.NaN,
    harness: (user + system) / 1e6,
    wall: performance.now() / 1000,
  };
}

async function main(opts: Options): Promise<number> {
  ensureTools(log, opts.only.has("s3"));
  if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });
  const startedAt = new Date();
  const revision = gitRevision();
  const env = await startEnv(opts, log);
  const rows: Row[] = [];
  const cpuRows: Row[] = [];
  const rssRows: Row[] = [];
  const pids = env.mirrors.map((m) => m.pid);
  const quiet = async () => {
    await quiesce(pids, opts.quietWindowMs);
  };
  const errors: { scenario: string; error: string }[] = [];
  const details: Record<string, unknown> = {};
  const cpuSeconds: Record<string, Record<string, number>> = {};
  details.cpuSeconds = cpuSeconds;
  try {
    for (const [name, fn] of SCENARIO_FNS) {
      if (!opts.only.has(name)) continue;
      const before = cpuNow(env.mirrors);
      let result: ScenarioResult | undefined;
      try {
        result = await fn({ env, opts, log, quiet });
        rows.push(...result.rows);
        details[name] = result.details;
      } catch (err) {
        log(`${name} failed: ${(err as Error).stack ?? err}`);
        errors.push({ scenario: name, error: String(err) });
      }
      await quiet();
      const after = cpuNow(env.mirrors);
      cpuSeconds[name] = Object.fromEntries(
        Object.entries(after).map(([k, v]) => [
          k,
          Math.round((v - before[k as keyof typeof before]) * 100) / 100,
        ]),
      );
      if (result?.ownMirrors) {
        cpuRows.push(result.ownMirrors.cpu);
        rssRows.push(result.ownMirrors.rss);
        continue;
      }
      const [hubNow, regNow] = pids.map((p) => procStats(p).peakRssMiB);
      rssRows.push(
        row(`rss.${name}`, `  VmHWM after ${name}`, "MiB", "lower", {
          hubmirror: hubNow ?? Number.NaN,
          "registry:2": regNow ?? Number.NaN,
        }),
      );
      cpuRows.push(
        row(`cpu.${name}`, `  CPU during ${name}`, "s", "lower", {
          hubmirror: after.hubmirror - before.hubmirror,
          "registry:2": after["registry:2"] - before["registry:2"],
        }),
      );
    }
    const [hub, reg] = env.mirrors.map((m) => procStats(m.pid));
    if (!hub || !reg) throw new Error("no mirror stats");
    rows.push(
      row("rss.peak", "peak RSS (VmHWM) over the run", "MiB", "lower", {
        hubmirror: hub.peakRssMiB,
        "registry:2": reg.peakRssMiB,
      }),
      row("cpu.total", "CPU over the run (user+sys)", "s", "lower", {
        hubmirror: hub.cpuS,
        "registry:2": reg.cpuS,
      }),
      ...cpuRows,
      ...rssRows,
    );
    details.hubmirrorWarnings = await env.hubmirrorWarnings();
  } finally {
    await env.stop();
  }

  process.stdout.write(`\n${renderTable(rows, evaluateTargets(rows))}\n`);
  const results = buildResults(opts, revision, startedAt, rows, errors, details);
  const out = opts.out ?? join(RESULTS_DIR, `${startedAt.toISOString().replaceAll(":", "-")}.json`);
  writeResults(out, results);
  process.stdout.write(`\nresults: ${out}\n`);
  if (opts.profileDir) {
    const profiles = readdirSync(opts.profileDir).filter((f) => f.endsWith(".cpuprofile"));
    process.stdout.write(`hubmirror CPU profiles in ${opts.profileDir}: ${profiles.join(", ")}\n`);
  }
  for (const e of errors) process.stdout.write(`FAILED ${e.scenario}: ${e.error}\n`);
  return errors.length > 0 ? 1 : 0;
}

main(parseOptions(process.argv.slice(2))).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
