// (2) One client, the big blob already cached: whole and with a Range (the middle half), against nginx sendfile of
// the same file as the ceiling. Every round alternates who goes first.
import type { TestImage } from "../../test/fixtures/images.js";
import { getOk } from "../http.js";
import { alternate, median, mibPerS } from "../measure.js";
import {
  blobOf,
  type Ctx,
  perMirror,
  row,
  type ScenarioResult,
  sizeLabel,
  upstreamRequests,
} from "./common.js";

interface Sample {
  mibs: number;
  ttfbMs: number;
  rangeMibs: number;
}

export async function blobWarm(ctx: Ctx): Promise<ScenarioResult> {
  const { env, opts } = ctx;
  const blob = blobOf(env.big[0] as TestImage);
  const from = Math.floor(blob.size / 4);
  const to = from + Math.floor(blob.size / 2) - 1;
  const rangeLength = to - from + 1;
  const targets = [
    ...env.mirrors.map((m) => ({ name: m.name as string, url: m.url + blob.path })),
    { name: "nginx", url: env.nginx.fileUrl },
  ];
  // Unmeasured: makes sure every mirror has the blob (when run without blob-cold) and warms the page cache.
  for (const t of targets) await getOk(t.url, { length: blob.size });
  await env.upstream.clearAccessLog();
  const samples = await alternate(opts.rounds, targets, async (t, round) => {
    await ctx.quiet();
    ctx.log(`warm ${sizeLabel(blob.size)} via ${t.name} (round ${round + 1})`);
    const whole = await getOk(t.url, { length: blob.size });
    const range = await getOk(t.url, {
      headers: { Range: `bytes=${from}-${to}` },
      want: 206,
      length: rangeLength,
    });
    const want = `bytes ${from}-${to}/${blob.size}`;
    if (range.headers["content-range"] !== want) {
      throw new Error(`${t.name}: Content-Range ${range.headers["content-range"]}, expected ${want}`);
    }
    return {
      mibs: mibPerS(whole.bytes, whole.totalMs),
      ttfbMs: whole.ttfbMs,
      rangeMibs: mibPerS(range.bytes, range.totalMs),
    } satisfies Sample;
  });
  let upstreamGets = 0;
  for (const m of env.mirrors)
    upstreamGets += (await upstreamRequests(ctx, m.name, (r) => r.path === blob.path)).length;
  if (upstreamGets > 0) ctx.log(`warning: ${upstreamGets} upstream requests for a cached blob`);
  const nginx = (f: (s: Sample) => number) => median((samples.get("nginx") ?? []).map(f));
  const size = sizeLabel(blob.size);
  return {
    rows: [
      row(
        "warm.mibs",
        `warm GET ${size} blob`,
        "MiB/s",
        "higher",
        perMirror(samples, (s) => median(s.map((x) => x.mibs))),
        {
          name: "nginx",
          value: nginx((s) => s.mibs),
        },
      ),
      row(
        "warm.ttfb",
        "warm GET: time to first byte",
        "ms",
        "lower",
        perMirror(samples, (s) => median(s.map((x) => x.ttfbMs))),
        { name: "nginx", value: nginx((s) => s.ttfbMs) },
      ),
      row(
        "warm.range.mibs",
        `warm GET Range (middle ${sizeLabel(rangeLength)})`,
        "MiB/s",
        "higher",
        perMirror(samples, (s) => median(s.map((x) => x.rangeMibs))),
        { name: "nginx", value: nginx((s) => s.rangeMibs) },
      ),
    ],
    details: { samples: Object.fromEntries(samples), upstreamRequestsWhileWarm: upstreamGets },
  };
}
