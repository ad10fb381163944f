// (6) `skopeo copy` of every catalogue image into an OCI layout: cold (empty caches), then warm.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Mirror } from "../env.js";
import {
  beginMeasurement,
  type Ctx,
  gets,
  perMirror,
  row,
  type ScenarioResult,
  sizeLabel,
  upstreamRequests,
} from "./common.js";

const run = promisify(execFile);

async function copy(ctx: Ctx, mirror: Mirror, repo: string): Promise<number> {
  const dir = await mkdtemp(join(ctx.env.work, "oci-"));
  const src = `docker://${new URL(mirror.url).host}/${repo}:latest`;
  const started = performance.now();
  try {
    await run(
      "skopeo",
      ["--insecure-policy", "copy", "--quiet", "--src-tls-verify=false", src, `oci:${dir}:latest`],
      {
        timeout: 300_000,
      },
    );
    return (performance.now() - started) / 1000;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function skopeo(ctx: Ctx): Promise<ScenarioResult> {
  const { env } = ctx;
  const rows = [];
  const details: Record<string, unknown> = {};
  for (const [i, phase] of (["cold", "warm"] as const).entries()) {
    const samples = new Map<string, number[]>();
    const blobGets: Record<string, number> = {};
    for (const m of i % 2 === 0 ? env.mirrors : [...env.mirrors].reverse()) {
      await beginMeasurement(ctx, `skopeo copy of ${env.catalogue.length} images, ${phase}, via ${m.name}`);
      const times: number[] = [];
      for (const img of env.catalogue) times.push(await copy(ctx, m, img.repo));
      samples.set(m.name, times);
      blobGets[m.name] = gets(await upstreamRequests(ctx, m.name, (r) => r.path.includes("/blobs/")));
    }
    const label = `skopeo copy, ${env.catalogue.length} images (${sizeLabel(ctx.opts.catalogueLayer)} layers), ${phase}`;
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    rows.push(row(`skopeo.${phase}`, label, "s", "lower", perMirror(samples, sum)));
    details[phase] = {
      secondsPerImage: Object.fromEntries(
        [...samples].map(([name, t]) => [
          name,
          Object.fromEntries(env.catalogue.map((img, j) => [img.repo, t[j]])),
        ]),
      ),
      upstreamBlobGets: blobGets,
    };
  }
  return { rows, details };
}
