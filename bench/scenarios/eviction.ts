// (9) The size cap under load (issue 10), on two hubmirrors of its own (same build, same upstream): one started with
// `--max-size` half the working set, one without a cap. Every image has one layer of about `evictionBlob` bytes.
//  1. Hit ratio: pulls (manifest by tag, config, layer) of `evictionImages` images — a working set twice the cap —
//     in a loop, picked with a Zipf(1) popularity from a seeded sequence (a few images carry most pulls, as on
//     Docker Hub), `evictionClients` at once; one unmeasured pass first, so the capped cache is in its steady state.
//  2. Eviction cost: `evictionClients` clients pull the 4 most popular images (hits on both) while one more pulls,
//     one after the other, new images adding up to twice the cap. Both mirrors get the same new content (each
//     fetches it), but only the capped one evicts to make room: the latency of the hits, capped vs not, is what
//     eviction running alongside costs a hit. New images per round, so that they are new to both.
// Each request carries `?bench=<key>`: the mirror's access log tells whether it was a hit.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { makeBlobImage, pushImage, type TestImage } from "../../test/fixtures/images.js";
import { WARMUP_BLOB, warmUp } from "../env.js";
import { type HubmirrorProcess, startHubmirror } from "../hubmirror.js";
import { alternate, percentile, procStats, quiesce } from "../measure.js";
import type { Columns, Row } from "../report.js";
import { type Ctx, columnRow, MIB, type ScenarioResult, sizeLabel } from "./common.js";
import {
  cacheResults,
  hitsWhileFilling,
  metric,
  pullSequence,
  type Sample,
  zipfSequence,
} from "./eviction-load.js";

const COLUMNS: Columns = { a: "capped (evicting)", b: "no cap", ratio: "cap/none" };
/** Layer sizes step by 512 bytes from the base size plus this: no other scenario's blobs. */
const SIZE_OFFSET = 128 * 1024;
const HOT_IMAGES = 4;

interface Target {
  name: "capped" | "uncapped";
  mirror: HubmirrorProcess;
}

const imageBytes = (img: TestImage) => img.blobs.reduce((t, b) => t + b.size, img.manifest.size);

/** `count` new single-layer images, pushed upstream; `from` numbers them (sizes step by 512 bytes). */
async function newImages(ctx: Ctx, from: number, count: number): Promise<TestImage[]> {
  const out: TestImage[] = [];
  for (let i = from; i < from + count; i++) {
    const img = await makeBlobImage(ctx.opts.evictionBlob + SIZE_OFFSET + i * 512);
    await pushImage(ctx.env.upstream.url, img.repo, img.tag, img);
    out.push(img);
  }
  return out;
}

export async function eviction(ctx: Ctx): Promise<ScenarioResult> {
  const { env, opts, log } = ctx;
  const n = opts.evictionImages;
  const images = await newImages(ctx, 0, n);
  // Twice the cap of new content per round: the whole cache turns over.
  const fresh: TestImage[][] = [];
  for (let r = 0; r < opts.rounds; r++) fresh.push(await newImages(ctx, n * (r + 1), n));
  const workingSet = images.reduce((s, img) => s + imageBytes(img), 0);
  const cap = Math.floor(workingSet / 2);

  const start = async (name: Target["name"], args: string[]): Promise<Target> => {
    const dir = join(env.work, `hub-${name}`);
    mkdirSync(dir, { recursive: true });
    const data = join(dir, "data");
    return {
      name,
      mirror: await startHubmirror({ ...env.hubmirrorBuild, upstream: env.upstream.url, data, args }),
    };
  };
  const targets = [await start("capped", ["--max-size", String(cap)]), await start("uncapped", [])];
  const [capped, uncapped] = targets as [Target, Target];
  try {
    const pids = [...env.mirrors.map((m) => m.pid), capped.mirror.pid, uncapped.mirror.pid];
    const quiet = async () => void (await quiesce(pids, opts.quietWindowMs));
    const cpuBefore = targets.map((t) => procStats(t.mirror.pid).cpuS);
    const warmup = await makeBlobImage(WARMUP_BLOB);
    for (const t of targets)
      await warmUp({ name: "hubmirror", url: t.mirror.url, pid: t.mirror.pid }, warmup);
    const clients = opts.evictionClients;
    const sequence = zipfSequence(n, opts.evictionPulls, 10);
    const hits = `${clients} clients on ${HOT_IMAGES} cached images while twice the cap of new ones come in`;
    log(
      `eviction: ${n} images of ${sizeLabel(opts.evictionBlob)}, working set ${sizeLabel(workingSet)}, ` +
        `cap ${sizeLabel(cap)}; unmeasured pass of ${sequence.length} pulls on each`,
    );
    for (const t of targets) await pullSequence(t.mirror.url, images, sequence, clients, `warm-${t.name}`);

    const loop = await alternate(opts.rounds, targets, async (t, round) => {
      await quiet();
      log(
        `eviction: ${sequence.length} pulls, ${clients} at once, via the ${t.name} hubmirror (round ${round + 1})`,
      );
      return pullSequence(t.mirror.url, images, sequence, clients, `r${round}`);
    });
    // After the loop: the new content would lower its hit ratio.
    const removed = () =>
      Promise.all([
        metric(capped.mirror.url, "hubmirror_cache_removals_total"),
        metric(capped.mirror.url, "hubmirror_cache_removed_bytes_total"),
      ]);
    const removedBefore = await removed();
    const churnCpu = new Map<Target["name"], number>();
    const churn = await alternate(opts.rounds, targets, async (t, round) => {
      await quiet();
      log(`eviction: ${hits} (${sizeLabel(2 * cap)}), via the ${t.name} hubmirror (round ${round + 1})`);
      const hot = images.slice(0, HOT_IMAGES);
      const cpu = procStats(t.mirror.pid).cpuS;
      const samples = await hitsWhileFilling(
        t.mirror.url,
        hot,
        fresh[round] as TestImage[],
        clients,
        `c${round}`,
      );
      await quiet(); // the last commit, and the eviction it starts
      churnCpu.set(t.name, (churnCpu.get(t.name) ?? 0) + procStats(t.mirror.pid).cpuS - cpu);
      return samples;
    });
    const removedAfter = await removed();
    const removals = { count: removedAfter[0] - removedBefore[0], bytes: removedAfter[1] - removedBefore[1] };
    await quiet();
    const results = new Map(targets.map((t) => [t.name, cacheResults(t.mirror.logPath)]));
    const hitsOf = (name: Target["name"], samples: Sample[]) =>
      samples.filter((s) => {
        const r = results.get(name)?.get(s.key);
        if (r === undefined) throw new Error(`request ${s.key} missing from the ${name} hubmirror's log`);
        return r === "hit";
      });
    const ratio = (name: Target["name"], f: (s: Sample) => number) => {
      const all = (loop.get(name) ?? []).flat();
      return (100 * hitsOf(name, all).reduce((a, s) => a + f(s), 0)) / all.reduce((a, s) => a + f(s), 0);
    };
    const churnHits = (name: Target["name"]) => hitsOf(name, (churn.get(name) ?? []).flat()).map((s) => s.ms);
    const cacheBytes = async (t: Target) =>
      ((await (await fetch(`${t.mirror.url}/admin/cache`)).json()) as { bytes: number }).bytes;
    const cpu = targets.map((t, i) => procStats(t.mirror.pid).cpuS - (cpuBefore[i] ?? 0));

    const pair = columnRow(COLUMNS);
    const p = (name: Target["name"], q: number) => percentile(churnHits(name), q);
    const rows: Row[] = [
      pair(
        "eviction.hitRatio",
        `eviction: hit ratio (requests), ${sizeLabel(workingSet)} working set, ${sizeLabel(cap)} cap, Zipf pulls`,
        "%",
        "higher",
        ratio("capped", () => 1),
        ratio("uncapped", () => 1),
      ),
      pair(
        "eviction.byteHitRatio",
        "eviction: hit ratio (bytes)",
        "%",
        "higher",
        ratio("capped", (s) => s.bytes),
        ratio("uncapped", (s) => s.bytes),
      ),
      pair(
        "eviction.hitP99",
        `eviction: p99 latency of hits, ${hits}`,
        "ms",
        "lower",
        p("capped", 99),
        p("uncapped", 99),
      ),
      pair(
        "eviction.hitP50",
        "eviction: p50 latency of those hits",
        "ms",
        "lower",
        p("capped", 50),
        p("uncapped", 50),
      ),
      pair(
        "eviction.hits",
        "eviction: those hits, counted",
        "count",
        "none",
        churnHits("capped").length,
        churnHits("uncapped").length,
      ),
      pair(
        "eviction.churnCpu",
        "eviction: CPU of the mirror meanwhile",
        "s",
        "lower",
        churnCpu.get("capped") ?? Number.NaN,
        churnCpu.get("uncapped") ?? Number.NaN,
      ),
      pair("eviction.removals", "eviction: objects evicted meanwhile", "count", "none", removals.count, 0),
      pair("eviction.freed", "eviction: bytes evicted meanwhile", "MiB", "none", removals.bytes / MIB, 0),
      pair(
        "eviction.cacheBytes",
        "eviction: cache size after the run",
        "MiB",
        "none",
        (await cacheBytes(capped)) / MIB,
        (await cacheBytes(uncapped)) / MIB,
      ),
    ];
    return {
      rows,
      ownMirrors: {
        cpu: pair(
          "cpu.eviction",
          "  CPU during eviction",
          "s",
          "lower",
          cpu[0] ?? Number.NaN,
          cpu[1] ?? Number.NaN,
        ),
        rss: pair(
          "rss.eviction",
          "  VmHWM after eviction",
          "MiB",
          "lower",
          procStats(capped.mirror.pid).peakRssMiB,
          procStats(uncapped.mirror.pid).peakRssMiB,
        ),
      },
      details: {
        cap,
        workingSet,
        sequence,
        churnHitMs: { capped: churnHits("capped"), uncapped: churnHits("uncapped") },
        hubmirrorWarnings: {
          capped: await capped.mirror.warnings(),
          uncapped: await uncapped.mirror.warnings(),
        },
      },
    };
  } finally {
    for (const t of targets) await t.mirror.stop();
  }
}
