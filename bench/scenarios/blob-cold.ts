// (1) One client, one uncached big blob: throughput, time to first body byte, upstream GETs for that blob. Each
// round uses its own blob (a cache is cold once); the upstream's own answer for the same blob, fetched just before,
// is the TTFB reference.
import type { TestImage } from "../../test/fixtures/images.js";
import { getOk } from "../http.js";
import { alternate, median, mibPerS } from "../measure.js";
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

interface Sample {
  mibs: number;
  ttfbMs: number;
  headersMs: number;
  upstreamGets: number;
  upstream: string[];
}

export function blobCold(ctx: Ctx): Promise<ScenarioResult> {
  return coldRows(ctx, ctx.env.big, "cold", "");
}

/**
 * The cold rows for one uncached image per round (`images[round]`) through ctx's mirrors; row ids start with
 * `id`, labels with `label` (the s3 scenario runs them on its own mirrors).
 */
export async function coldRows(
  ctx: Ctx,
  images: TestImage[],
  id: string,
  label: string,
): Promise<ScenarioResult> {
  const { env } = ctx;
  const direct: { mibs: number; ttfbMs: number }[] = [];
  const samples = await alternate(ctx.opts.rounds, env.mirrors, async (mirror, round) => {
    const blob = blobOf(images[round] as TestImage);
    if (direct.length === round) {
      // The upstream itself, first in each round (this also puts the blob in the page cache for both mirrors).
      const d = await getOk(env.upstream.url + blob.path, { length: blob.size });
      direct.push({ mibs: mibPerS(d.bytes, d.totalMs), ttfbMs: d.ttfbMs });
    }
    await beginMeasurement(
      ctx,
      `${label}cold ${sizeLabel(blob.size)} via ${mirror.name} (round ${round + 1})`,
    );
    const res = await getOk(mirror.url + blob.path, { length: blob.size });
    const upstream = await upstreamRequests(ctx, mirror.name, (r) => r.path === blob.path);
    return {
      mibs: mibPerS(res.bytes, res.totalMs),
      ttfbMs: res.ttfbMs,
      headersMs: res.headersMs,
      upstreamGets: gets(upstream),
      upstream: upstream.map((r) => `${r.method} ${r.status} ${r.userAgent}`),
    } satisfies Sample;
  });
  const size = sizeLabel(blobOf(images[0] as TestImage).size);
  const upstreamTtfb = median(direct.map((d) => d.ttfbMs));
  return {
    rows: [
      row(
        `${id}.mibs`,
        `${label}cold GET ${size} blob`,
        "MiB/s",
        "higher",
        perMirror(samples, (s) => median(s.map((x) => x.mibs))),
        { name: "upstream", value: median(direct.map((d) => d.mibs)) },
      ),
      row(
        `${id}.ttfb`,
        `${label}cold GET: time to first byte`,
        "ms",
        "lower",
        perMirror(samples, (s) => median(s.map((x) => x.ttfbMs))),
        { name: "upstream", value: upstreamTtfb },
      ),
      row(
        `${id}.upstreamGets`,
        `${label}cold GET: upstream GETs of the blob (max)`,
        "count",
        "none",
        perMirror(samples, (s) => Math.max(...s.map((x) => x.upstreamGets))),
      ),
    ],
    details: { samples: Object.fromEntries(samples), upstreamDirect: direct },
  };
}
