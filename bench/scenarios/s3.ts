// (7) Both caches in object storage, on their own mirrors and one radosgw (s3env.ts): the cold rows filling into a
// bucket; a warm GET through the mirror's 307 to a presigned URL, against that URL fetched directly; the peak RSS
// while several clients fill as many different uncached blobs at once.
import { setTimeout as sleep } from "node:timers/promises";
import type { TestImage } from "../../test/fixtures/images.js";
import type { Mirror } from "../env.js";
import { getFollowing, getOk } from "../http.js";
import { alternate, median, mibPerS, procStats, quiesce } from "../measure.js";
import { type S3Env, startS3Env } from "../s3env.js";
import { coldRows } from "./blob-cold.js";
import {
  beginMeasurement,
  blobOf,
  type Ctx,
  gets,
  perMirror,
  row,
  type ScenarioResult,
  sizeLabel,
  upstreamRequests,
} from "./common.js";

const RSS_SAMPLE_MS = 20;
const REDIRECT_WAIT_MS = 60_000;

/** CPU seconds so far of the processes that do the work here: each mirror, radosgw, the OSD, the clients. */
function cpuNow(s3: S3Env): Record<string, number> {
  const { user, system } = process.cpuUsage();
  return {
    hubmirror: procStats(s3.mirrors[0].pid).cpuS,
    "registry:2": procStats(s3.mirrors[1].pid).cpuS,
    radosgw: procStats(s3.rgw.pids.rgw).cpuS,
    "ceph-osd": procStats(s3.rgw.pids.osd).cpuS,
    harness: (user + system) / 1e6,
  };
}

const cpuSince = (s3: S3Env, before: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(cpuNow(s3)).map(([k, v]) => [k, Math.round((v - (before[k] ?? 0)) * 100) / 100]),
  );

/**
 * GETs `url` until it answers a 307 (followed), resolving to its Location: a mirror may commit a blob a moment
 * after its client is done (registry:2 stores it with a second upstream GET).
 */
async function untilRedirected(url: string, length: number): Promise<string> {
  const deadline = Date.now() + REDIRECT_WAIT_MS;
  for (;;) {
    const { location } = await getFollowing(url, { length });
    if (location !== undefined) return location;
    if (Date.now() > deadline) throw new Error(`${url}: no 307 after ${REDIRECT_WAIT_MS} ms`);
    await sleep(250);
  }
}

/** The cached blob through each mirror's 307 (followed), and hubmirror's presigned URL fetched directly. */
async function warmRedirected(ctx: Ctx, img: TestImage): Promise<ScenarioResult> {
  const blob = blobOf(img);
  const url = (m: Mirror) => m.url + blob.path;
  // hubmirror's Location (mirrors[0]) is the reference URL.
  const [presigned] = (await Promise.all(ctx.env.mirrors.map((m) => untilRedirected(url(m), blob.size)))) as [
    string,
    string,
  ];
  const targets = [
    ...ctx.env.mirrors.map((m) => ({ name: m.name as string, get: () => getFollowing(url(m)) })),
    { name: "presigned", get: () => getOk(presigned) },
  ];
  const samples = await alternate(ctx.opts.rounds, targets, async (t, round) => {
    await ctx.quiet();
    ctx.log(`S3: warm ${sizeLabel(blob.size)} via ${t.name} (round ${round + 1})`);
    const res = await t.get();
    if (res.bytes !== blob.size) throw new Error(`${t.name}: ${res.bytes} bytes, expected ${blob.size}`);
    return { mibs: mibPerS(res.bytes, res.totalMs), ttfbMs: res.ttfbMs };
  });
  const direct = (f: (s: { mibs: number; ttfbMs: number }) => number) =>
    median((samples.get("presigned") ?? []).map(f));
  const size = sizeLabel(blob.size);
  return {
    rows: [
      row(
        "s3.warm.mibs",
        `S3: warm GET ${size} blob through the 307`,
        "MiB/s",
        "higher",
        perMirror(samples, (s) => median(s.map((x) => x.mibs))),
        { name: "presigned", value: direct((s) => s.mibs) },
      ),
      row(
        "s3.warm.ttfb",
        "S3: warm GET through the 307: time to first byte",
        "ms",
        "lower",
        perMirror(samples, (s) => median(s.map((x) => x.ttfbMs))),
        { name: "presigned", value: direct((s) => s.ttfbMs) },
      ),
    ],
    details: { samples: Object.fromEntries(samples) },
  };
}

/** Samples a process's VmRSS until stopped; resolves to the peak in MiB. */
function sampleRss(pid: number): () => number {
  let peak = procStats(pid).rssMiB;
  const timer = setInterval(() => {
    peak = Math.max(peak, procStats(pid).rssMiB);
  }, RSS_SAMPLE_MS);
  return () => {
    clearInterval(timer);
    return Math.max(peak, procStats(pid).rssMiB);
  };
}

/** One client per image, all at once, each on a different uncached blob: peak RSS until the mirror is idle. */
async function concurrentFills(ctx: Ctx, images: TestImage[]): Promise<ScenarioResult> {
  const blobs = images.map(blobOf);
  const paths = new Set(blobs.map((b) => b.path));
  const what = `${blobs.length} clients filling ${blobs.length} uncached ${sizeLabel(ctx.opts.s3Blob)} blobs`;
  // One set of blobs (each mirror is cold for them once): one round.
  const samples = await alternate(1, ctx.env.mirrors, async (mirror) => {
    await beginMeasurement(ctx, `S3: ${what} via ${mirror.name}`);
    const stopSampling = sampleRss(mirror.pid);
    const started = performance.now();
    await Promise.all(blobs.map((b) => getOk(mirror.url + b.path, { length: b.size })));
    const wallS = (performance.now() - started) / 1000;
    // Waits until the mirror is idle: registry:2's background stores count towards its peak too.
    const upstream = await upstreamRequests(ctx, mirror.name, (r) => paths.has(r.path));
    return { peakRssMiB: stopSampling(), wallS, upstreamGets: gets(upstream) };
  });
  return {
    rows: [
      row(
        "s3.fill.rss",
        `S3: ${what}: peak RSS`,
        "MiB",
        "lower",
        perMirror(samples, (s) => Math.max(...s.map((x) => x.peakRssMiB))),
      ),
      row(
        "s3.fill.wall",
        `S3: ${what}: wall`,
        "s",
        "lower",
        perMirror(samples, (s) => median(s.map((x) => x.wallS))),
      ),
      row(
        "s3.fill.upstreamGets",
        `S3: ${what}: upstream GETs`,
        "count",
        "none",
        perMirror(samples, (s) => Math.max(...s.map((x) => x.upstreamGets))),
      ),
    ],
    details: { samples: Object.fromEntries(samples) },
  };
}

export async function s3(ctx: Ctx): Promise<ScenarioResult> {
  const s3env = await startS3Env(ctx.env, ctx.opts, ctx.log);
  try {
    const pids = s3env.mirrors.map((m) => m.pid);
    // Idle means radosgw and the OSD too: a mirror storing into the bucket waits on them more than it computes.
    const busy = [...pids, s3env.rgw.pids.rgw, s3env.rgw.pids.osd];
    const sctx: Ctx = {
      ...ctx,
      env: { ...ctx.env, mirrors: s3env.mirrors },
      quiet: async () => {
        await quiesce(busy, ctx.opts.quietWindowMs);
      },
    };
    const start = cpuNow(s3env);
    const cpuSeconds: Record<string, Record<string, number>> = {};
    const parts: [string, () => Promise<ScenarioResult>][] = [
      ["cold", () => coldRows(sctx, s3env.cold, "s3.cold", "S3: ")],
      ["warm", () => warmRedirected(sctx, s3env.cold[0] as TestImage)],
      ["fill", () => concurrentFills(sctx, s3env.fill)],
    ];
    const results: ScenarioResult[] = [];
    for (const [name, fn] of parts) {
      const before = cpuNow(s3env);
      results.push(await fn());
      await sctx.quiet();
      cpuSeconds[name] = cpuSince(s3env, before);
    }
    const total = cpuSince(s3env, start);
    const [hub, reg] = pids.map((p) => procStats(p));
    return {
      rows: results.flatMap((r) => r.rows),
      ownMirrors: {
        cpu: row("cpu.s3", "  CPU during s3 (its own mirrors)", "s", "lower", {
          hubmirror: total.hubmirror ?? Number.NaN,
          "registry:2": total["registry:2"] ?? Number.NaN,
        }),
        rss: row("rss.s3", "  VmHWM after s3 (its own mirrors)", "MiB", "lower", {
          hubmirror: hub?.peakRssMiB ?? Number.NaN,
          "registry:2": reg?.peakRssMiB ?? Number.NaN,
        }),
      },
      details: {
        cold: results[0]?.details,
        warm: results[1]?.details,
        fill: results[2]?.details,
        cpuSeconds,
        hubmirrorWarnings: await s3env.hubmirrorWarnings(),
      },
    };
  } finally {
    await s3env.stop();
  }
}
