// (3) Many clients at once on one uncached blob (a thundering herd): wall time until the last body is complete,
// per-client time to first byte, upstream GETs for the blob; every body is sha256-verified. Clients run on worker
// threads (clients.ts): receiving and hashing 32 bodies is CPU work that one harness thread would serialise.
import type { TestImage } from "../../test/fixtures/images.js";
import { concurrentGets } from "../clients.js";
import { alternate, median, percentile } from "../measure.js";
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
  wallS: number;
  ttfbP50Ms: number;
  ttfbMaxMs: number;
  verified: number;
  failures: string[];
  upstreamGets: number;
}

export async function herd(ctx: Ctx): Promise<ScenarioResult> {
  const { env, opts } = ctx;
  const n = opts.herdClients;
  const samples = await alternate(opts.rounds, env.mirrors, async (mirror, round) => {
    const blob = blobOf(env.herd[round] as TestImage);
    await beginMeasurement(
      ctx,
      `${n} clients on uncached ${sizeLabel(blob.size)} via ${mirror.name} (round ${round + 1})`,
    );
    const { wallMs, outcomes } = await concurrentGets(mirror.url + blob.path, n, { hash: true });
    const ok = outcomes.filter((o) => o.ok);
    const failures = outcomes.flatMap((o) => (o.ok ? [] : [o.error ?? "failed"]));
    const verified = ok.filter(
      (r) => r.status === 200 && r.bytes === blob.size && `sha256:${r.sha256}` === blob.digest,
    ).length;
    for (const r of ok) if (r.status !== 200) failures.push(`status ${r.status}`);
    const wallS = wallMs / 1000;
    const ttfbs = ok.map((r) => r.firstByte - r.start);
    const upstream = await upstreamRequests(ctx, mirror.name, (r) => r.path === blob.path);
    return {
      wallS,
      ttfbP50Ms: percentile(ttfbs, 50),
      ttfbMaxMs: Math.max(...ttfbs),
      verified,
      failures: failures.slice(0, 5),
      upstreamGets: gets(upstream),
    } satisfies Sample;
  });
  const what = `${n} clients, uncached ${sizeLabel(opts.herdBlob)}`;
  return {
    rows: [
      row(
        "herd.wall",
        `${what}: wall`,
        "s",
        "lower",
        perMirror(samples, (s) => median(s.map((x) => x.wallS))),
      ),
      row(
        "herd.ttfbP50",
        `${what}: TTFB p50`,
        "ms",
        "lower",
        perMirror(samples, (s) => median(s.map((x) => x.ttfbP50Ms))),
      ),
      row(
        "herd.ttfbMax",
        `${what}: TTFB max`,
        "ms",
        "lower",
        perMirror(samples, (s) => median(s.map((x) => x.ttfbMaxMs))),
      ),
      row(
        "herd.upstreamGets",
        `${what}: upstream GETs (max)`,
        "count",
        "none",
        perMirror(samples, (s) => Math.max(...s.map((x) => x.upstreamGets))),
      ),
      row(
        "herd.verified",
        `${what}: bodies sha256-verified (min)`,
        `of ${n}`,
        "none",
        perMirror(samples, (s) => Math.min(...s.map((x) => x.verified))),
      ),
    ],
    details: { samples: Object.fromEntries(samples) },
  };
}
