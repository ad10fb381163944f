// What every scenario gets, and small helpers they share.
import { biggestBlob, type TestImage } from "../../test/fixtures/images.js";
import type { AccessRecord } from "../../test/fixtures/upstream-registry.js";
import type { Env, Mirror } from "../env.js";
import { AGENT } from "../http.js";
import type { Options } from "../options.js";
import type { Columns, Row } from "../report.js";

export interface Ctx {
  env: Env;
  opts: Options;
  log: (msg: string) => void;
  /** Resolves once both mirrors are idle (see `quiesce`): before each measurement, before counting requests. */
  quiet: () => Promise<void>;
}

export interface ScenarioResult {
  rows: Row[];
  details: unknown;
  /** A scenario on mirrors of its own (s3): its CPU and VmHWM rows, instead of those of the run's mirrors. */
  ownMirrors?: { cpu: Row; rss: Row };
}

export const MIB = 1024 * 1024;

export function sizeLabel(bytes: number): string {
  return bytes >= MIB ? `${Math.round(bytes / MIB)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/** The API path of an image's biggest blob (a blob image's layer), and that blob. */
export function blobOf(img: TestImage): { path: string; digest: string; size: number; file: string } {
  const layer = biggestBlob(img);
  return {
    path: `/v2/${img.repo}/blobs/${layer.digest}`,
    digest: layer.digest,
    size: layer.size,
    file: layer.path,
  };
}

/** Distribution's proxy sends Go's default User-Agent; hubmirror anything else. */
const REGISTRY_AGENT = /^Go-http-client\//;

export function sentBy(mirror: Mirror["name"], r: AccessRecord): boolean {
  if (r.userAgent === AGENT) return false;
  return REGISTRY_AGENT.test(r.userAgent) === (mirror === "registry:2");
}

/**
 * Upstream requests that `mirror` made since the last clearAccessLog and that `match`, once both mirrors are idle:
 * requests are logged when they complete, and a proxy may still be fetching after its client is done.
 */
export async function upstreamRequests(
  ctx: Ctx,
  mirror: Mirror["name"],
  match: (r: AccessRecord) => boolean,
): Promise<AccessRecord[]> {
  await ctx.quiet();
  return (await ctx.env.upstream.accessLog()).filter((r) => sentBy(mirror, r) && match(r));
}

/**
 * Before one measurement whose upstream requests are counted: waits until both mirrors are idle, empties the
 * upstream's access log (so that upstreamRequests sees only this measurement's requests), and logs `what`.
 */
export async function beginMeasurement(ctx: Ctx, what: string): Promise<void> {
  await ctx.quiet();
  await ctx.env.upstream.clearAccessLog();
  ctx.log(what);
}

export const gets = (records: AccessRecord[]) => records.filter((r) => r.method === "GET").length;

/** A row from per-mirror values. */
export function row(
  id: string,
  label: string,
  unit: string,
  better: Row["better"],
  values: Record<Mirror["name"], number>,
  reference?: Row["reference"],
): Row {
  return {
    id,
    label,
    unit,
    better,
    hubmirror: values.hubmirror,
    registry: values["registry:2"],
    ...(reference && { reference }),
  };
}

/** Rows of two things measured side by side under the scenario's own column headers (not the two mirrors). */
export function columnRow(columns: Columns) {
  return (id: string, label: string, unit: string, better: Row["better"], a: number, b: number): Row => ({
    id,
    label,
    unit,
    better,
    hubmirror: a,
    registry: b,
    columns,
  });
}

/** Applies `fn` to each mirror's samples. */
export function perMirror<T>(
  samples: Map<string, T[]>,
  fn: (values: T[]) => number,
): Record<Mirror["name"], number> {
  return {
    hubmirror: fn(samples.get("hubmirror") ?? []),
    "registry:2": fn(samples.get("registry:2") ?? []),
  };
}
