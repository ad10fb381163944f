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
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeBlobImage, pushImage, type TestImage } from "../../test/fixtures/images.js";
import { WARMUP_BLOB, warmUp } from "../env.js";
import { getOk } from "../http.js";
import { type HubmirrorProcess, startHubmirror } from "../hubmirror.js";
import { percentile, procStats, quiesce } from "../measure.js";
import type { Columns, Row } from "../report.js";
import { type Ctx, MIB, type ScenarioResult, sizeLabel } from "./common.js";

const COLUMNS: Columns = { a: "capped (evicting)", b: "no cap", ratio: "cap/none" };
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** Layer sizes step by 512 bytes from the base size plus this: no other scenario's blobs. */
const SIZE_OFFSET = 128 * 1024;
const HOT_IMAGES = 4;

interface Target {
  name: "capped" | "uncapped";
  mirror: HubmirrorProcess;
}

interface Sample {
  /** The request's `?bench=` key: the same key on both mirrors names the same request. */
  key: string;
  ms: number;
  bytes: number;
}

/** mulberry32: a small seeded generator, so that both mirrors and every run get the same sequence. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` image indexes in [0, n), index k drawn with probability ∝ 1/(k+1). */
function zipfSequence(n: number, length: number, seed: number): number[] {
  const weights = Array.from({ length: n }, (_, k) => 1 / (k + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const next = random(seed);
  return Array.from({ length }, () => {
    let x = next() * total;
    for (const [k, w] of weights.entries()) {
      x -= w;
      if (x < 0) return k;
    }
    return n - 1;
  });
}

/** One pull: the manifest by tag, then each blob; every body's length checked. */
async function pull(url: string, img: TestImage, key: string): Promise<Sample[]> {
  const parts = [
    { path: `manifests/${img.tag}`, size: img.manifest.size, accept: OCI_MANIFEST },
    ...img.blobs.map((b) => ({ path: `blobs/${b.digest}`, size: b.size, accept: undefined })),
  ];
  const out: Sample[] = [];
  for (const [p, part] of parts.entries()) {
    const headers = part.accept ? { Accept: part.accept } : undefined;
    const res = await getOk(`${url}/v2/${img.repo}/${part.path}?bench=${key}.${p}`, {
      headers,
      length: part.size,
    });
    out.push({ key: `${key}.${p}`, ms: res.totalMs, bytes: res.bytes });
  }
  return out;
}

/** Pulls images[i] for every i of `sequence`, `clients` at a time. */
async function pullSequence(
  url: string,
  images: TestImage[],
  sequence: number[],
  clients: number,
  key: string,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  let next = 0;
  const client = async () => {
    for (let i = next++; i < sequence.length; i = next++) {
      samples.push(...(await pull(url, images[sequence[i] as number] as TestImage, `${key}-${i}`)));
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return samples;
}

/** `clients` pull the hot images in turn until `fresh` (pulled one after the other) are all in. */
async function hitsWhileFilling(
  url: string,
  hot: TestImage[],
  fresh: TestImage[],
  clients: number,
  key: string,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  let filling = true;
  const filler = async () => {
    for (const [i, img] of fresh.entries()) await pull(url, img, `${key}-new${i}`);
    filling = false;
  };
  const client = async (c: number) => {
    for (let i = 0; filling; i++) {
      samples.push(...(await pull(url, hot[i % hot.length] as TestImage, `${key}-hot${c}-${i}`)));
    }
  };
  await Promise.all([filler(), ...Array.from({ length: clients }, (_, c) => client(c))]);
  return samples;
}

/** The cache result of every benchmark request in a mirror's access log, by its `?bench=` key. */
function cacheResults(logPath: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(logPath, "utf8").split("\n")) {
    const m = /"path":"[^"]*\?bench=([\w.-]+)"[^\n]*?"cache":"(\w+)"/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

/** The sum of a metric's series in a mirror's /metrics. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))) sum += Number(m[1]);
  return sum;
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
    log(
      `eviction: ${n} images of ${sizeLabel(opts.evictionBlob)}, working set ${sizeLabel(workingSet)}, ` +
        `cap ${sizeLabel(cap)}; unmeasured pass of ${sequence.length} pulls on each`,
    );
    for (const t of targets) await pullSequence(t.mirror.url, images, sequence, clients, `warm-${t.name}`);

    const loop = new Map<Target["name"], Sample[]>([
      ["capped", []],
      ["uncapped", []],
    ]);
    for (let round = 0; round < opts.rounds; round++) {
      for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
        await quiet();
        log(
          `eviction: ${sequence.length} pulls, ${clients} at once, via the ${t.name} hubmirror (round ${round + 1})`,
        );
        loop.get(t.name)?.push(...(await pullSequence(t.mirror.url, images, sequence, clients, `r${round}`)));
      }
    }
    // After the loop: the new content would lower its hit ratio.
    const churn = new Map<Target["name"], Sample[]>([
      ["capped", []],
      ["uncapped", []],
    ]);
    const removed = () =>
      Promise.all([
        metric(capped.mirror.url, "hubmirror_cache_removals_total"),
        metric(capped.mirror.url, "hubmirror_cache_removed_bytes_total"),
      ]);
    const removedBefore = await removed();
    const hot = images.slice(0, HOT_IMAGES);
    for (let round = 0; round < opts.rounds; round++) {
      for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
        await quiet();
        log(
          `eviction: ${clients} clients on ${HOT_IMAGES} cached images while ${sizeLabel(2 * cap)} of new ones ` +
            `come in, via the ${t.name} hubmirror (round ${round + 1})`,
        );
        const samples = await hitsWhileFilling(
          t.mirror.url,
          hot,
          fresh[round] as TestImage[],
          clients,
          `c${round}`,
        );
        churn.get(t.name)?.push(...samples);
      }
    }
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
      const all = loop.get(name) ?? [];
      return (100 * hitsOf(name, all).reduce((a, s) => a + f(s), 0)) / all.reduce((a, s) => a + f(s), 0);
    };
    const churnHits = (name: Target["name"]) => hitsOf(name, churn.get(name) ?? []).map((s) => s.ms);
    const cacheBytes = async (t: Target) =>
      ((await (await fetch(`${t.mirror.url}/admin/cache`)).json()) as { bytes: number }).bytes;
    const cpu = targets.map((t, i) => procStats(t.mirror.pid).cpuS - (cpuBefore[i] ?? 0));

    const pair = (
      id: string,
      label: string,
      unit: string,
      better: Row["better"],
      a: number,
      b: number,
    ): Row => ({
      id,
      label,
      unit,
      better,
      hubmirror: a,
      registry: b,
      columns: COLUMNS,
    });
    const hits = `${clients} clients on ${HOT_IMAGES} cached images while ${sizeLabel(2 * cap)} of new ones come in`;
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
