// (5) Manifest GETs with wrk (keep-alive connections): by tag within the mirror's TTL, and by digest. Upstream
// requests made during each run come from the upstream's access log.
import type { TestImage } from "../../test/fixtures/images.js";
import type { MirrorName } from "../env.js";
import { getOk } from "../http.js";
import { type WrkResult, wrk } from "../measure.js";
import {
  beginMeasurement,
  type Ctx,
  perMirror,
  row,
  type ScenarioResult,
  upstreamRequests,
} from "./common.js";

/** What dockerd and containerd accept (order varies by client; a mirror must parse it). */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export type ManifestSample = WrkResult & { upstreamRequests: number };

/**
 * One wrk run (opts.wrkConnections keep-alive connections, opts.wrkSeconds) of manifest GETs at `url` with the
 * docker/OCI Accept list, once ctx's mirrors are idle; `sender` is the kind of mirror whose upstream manifest
 * requests during the run are counted (by User-Agent, see sentBy).
 */
export async function wrkManifests(
  ctx: Ctx,
  what: string,
  url: string,
  sender: MirrorName,
): Promise<ManifestSample> {
  const { opts } = ctx;
  await beginMeasurement(ctx, `${what}: wrk ${opts.wrkConnections} connections ${opts.wrkSeconds} s`);
  const res = await wrk(url, {
    connections: opts.wrkConnections,
    seconds: opts.wrkSeconds,
    headers: { Accept: MANIFEST_ACCEPT },
  });
  const upstream = await upstreamRequests(ctx, sender, (r) => r.path.includes("/manifests/"));
  const { raw: _raw, ...numbers } = res;
  if (res.non2xx + res.socketErrors > 0) ctx.log(`warning: ${what}: wrk errors\n${res.raw}`);
  return { ...numbers, upstreamRequests: upstream.length };
}

export async function manifests(ctx: Ctx): Promise<ScenarioResult> {
  const { env, opts } = ctx;
  const img = env.herd[0] as TestImage;
  const refs = { tag: img.tag, digest: img.manifest.digest };
  // Unmeasured: every mirror has the manifest (and the tag, fresh within its TTL) before wrk starts.
  for (const m of env.mirrors) {
    for (const ref of Object.values(refs)) {
      await getOk(`${m.url}/v2/${img.repo}/manifests/${ref}`, { headers: { Accept: MANIFEST_ACCEPT } });
    }
  }
  const rows = [];
  const details: Record<string, unknown> = {};
  for (const [i, [kind, ref]] of Object.entries(refs).entries()) {
    const samples = new Map<string, ManifestSample[]>();
    // One run each (wrk already averages over its duration); the order alternates between tag and digest.
    for (const m of i % 2 === 0 ? env.mirrors : [...env.mirrors].reverse()) {
      const url = `${m.url}/v2/${img.repo}/manifests/${ref}`;
      samples.set(m.name, [await wrkManifests(ctx, `manifest by ${kind} via ${m.name}`, url, m.name)]);
    }
    const one = (f: (s: ManifestSample) => number) => perMirror(samples, (s) => f(s[0] as ManifestSample));
    const what = `manifest by ${kind}${kind === "tag" ? " (within TTL)" : ""}, ${opts.wrkConnections} conns`;
    rows.push(
      row(
        `manifest.${kind}.rps`,
        `${what}`,
        "req/s",
        "higher",
        one((s) => s.rps),
      ),
      row(
        `manifest.${kind}.p99`,
        `${what}: p99`,
        "ms",
        "lower",
        one((s) => s.p99Ms),
      ),
      row(
        `manifest.${kind}.upstream`,
        `${what}: upstream requests`,
        "count",
        "lower",
        one((s) => s.upstreamRequests),
      ),
      row(
        `manifest.${kind}.errors`,
        `${what}: errors`,
        "count",
        "none",
        one((s) => s.non2xx + s.socketErrors),
      ),
    );
    details[kind] = Object.fromEntries(samples);
  }
  return { rows, details };
}
