// Rows, targets, the printed table and the JSON file.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { dirname } from "node:path";
import type { Options } from "./options.js";

export interface Row {
  id: string;
  label: string;
  unit: string;
  /** Which direction is better; "none" for counts that are checks rather than speeds. */
  better: "higher" | "lower" | "none";
  hubmirror: number;
  registry: number;
  /** A third party measured in the same run: nginx (ceiling) or the upstream itself. */
  reference?: { name: string; value: number };
  /**
   * When the two values are not hubmirror and registry:2 but two configurations of hubmirror (the routing rows):
   * what `hubmirror` and `registry` hold, and the ratio's name. Such rows print under their own header.
   */
  columns?: Columns;
}

export interface Columns {
  a: string;
  b: string;
  ratio: string;
}

const DEFAULT_COLUMNS: Columns = { a: "hubmirror", b: "registry:2", ratio: "hub/reg" };

/** Rows by their columns, the hubmirror vs registry:2 rows first, then each other header in order of appearance. */
function byColumns(rows: Row[]): [Columns, Row[]][] {
  const groups = new Map<string, [Columns, Row[]]>([
    [JSON.stringify(DEFAULT_COLUMNS), [DEFAULT_COLUMNS, []]],
  ]);
  for (const r of rows) {
    const cols = r.columns ?? DEFAULT_COLUMNS;
    const key = JSON.stringify(cols);
    const group = groups.get(key) ?? [cols, []];
    group[1].push(r);
    groups.set(key, group);
  }
  return [...groups.values()].filter(([, rs]) => rs.length > 0);
}

export interface TargetResult {
  target: string;
  value: string;
  met: boolean;
}

export const ratioOf = (row: Row) => (row.registry === 0 ? Number.NaN : row.hubmirror / row.registry);

function fmt(n: number): string {
  if (!Number.isFinite(n)) return "—";
  if (Number.isInteger(n)) return String(n);
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}×` : "—");

/** The targets, for the rows that were measured. */
export function evaluateTargets(rows: Row[]): TargetResult[] {
  const by = new Map(rows.map((r) => [r.id, r]));
  const out: TargetResult[] = [];
  const check = (ids: string[], target: string, fn: (...r: Row[]) => [string, boolean]) => {
    const rs = ids.map((id) => by.get(id));
    if (rs.some((r) => r === undefined)) return;
    const [value, met] = fn(...(rs as Row[]));
    out.push({ target, value, met });
  };
  const ratioAtLeast = (r: Row, want: number): [string, boolean] => [
    fmtRatio(ratioOf(r)),
    ratioOf(r) >= want,
  ];
  check(["warm.mibs"], "warm blob ≥ 1.0× registry:2", (r) => ratioAtLeast(r, 1));
  check(["warm.mibs"], "warm blob ≥ 0.7× nginx sendfile", (r) => {
    const x = r.hubmirror / (r.reference?.value ?? Number.NaN);
    return [fmtRatio(x), x >= 0.7];
  });
  check(["cold.mibs"], "cold blob ≥ 1.0× registry:2", (r) => ratioAtLeast(r, 1));
  check(["cold.upstreamGets"], "cold blob: exactly 1 upstream GET", (r) => [
    fmt(r.hubmirror),
    r.hubmirror === 1,
  ]);
  check(["cold.ttfb"], "cold TTFB ≤ upstream TTFB + 5 ms", (r) => {
    const up = r.reference?.value ?? Number.NaN;
    return [`${fmt(r.hubmirror)} ms vs ${fmt(up)} + 5 ms`, r.hubmirror <= up + 5];
  });
  check(["herd.wall"], "32 clients, uncached blob: wall ≤ 0.5× registry:2", (r) => [
    fmtRatio(ratioOf(r)),
    ratioOf(r) <= 0.5,
  ]);
  check(["herd.upstreamGets"], "32 clients, uncached blob: exactly 1 upstream GET", (r) => [
    fmt(r.hubmirror),
    r.hubmirror === 1,
  ]);
  check(["manifest.tag.rps"], "manifest by tag (within TTL) ≥ 10× req/s", (r) => ratioAtLeast(r, 10));
  check(["manifest.digest.rps"], "manifest by digest ≥ 3× req/s", (r) => ratioAtLeast(r, 3));
  check(["routing.tag.rps"], "manifest by tag, 6 upstreams ≥ 0.95× 1 upstream", (r) => ratioAtLeast(r, 0.95));
  check(["eviction.hitP99"], "p99 of hits while evicting ≤ 1.2× without eviction", (r) => [
    fmtRatio(ratioOf(r)),
    ratioOf(r) <= 1.2,
  ]);
  check(["verify.perGiB"], "verify ≤ 1.5× sha256sum per GiB", (r) => [
    fmtRatio(ratioOf(r)),
    ratioOf(r) <= 1.5,
  ]);
  check(["rss.peak"], "peak RSS ≤ 150 MiB", (r) => [`${fmt(r.hubmirror)} MiB`, r.hubmirror <= 150]);
  check(["s3.cold.mibs"], "S3: cold blob ≥ 1.0× registry:2", (r) => ratioAtLeast(r, 1));
  check(["s3.cold.upstreamGets"], "S3: cold blob: exactly 1 upstream GET", (r) => [
    fmt(r.hubmirror),
    r.hubmirror === 1,
  ]);
  check(["s3.warm.mibs"], "S3: warm blob through the 307 ≥ 0.9× presigned URL directly", (r) => {
    const x = r.hubmirror / (r.reference?.value ?? Number.NaN);
    return [fmtRatio(x), x >= 0.9];
  });
  check(["s3.fill.rss"], "S3: peak RSS, concurrent fills ≤ 200 MiB", (r) => [
    `${fmt(r.hubmirror)} MiB`,
    r.hubmirror <= 200,
  ]);
  const none = (r: Row): [string, boolean] => [fmt(r.hubmirror), r.hubmirror === 0];
  check(["soak.wrong"], "soak: no client accepted wrong bytes", none);
  check(["soak.verifyBad"], "soak: every committed blob verifies", none);
  check(["soak.tagsUnresolved"], "soak: every tag resolves", none);
  check(["soak.kills", "soak.restarts"], "soak: restarted after every kill", (k, r) => [
    `${fmt(r.hubmirror)} of ${fmt(k.hubmirror)}`,
    k.hubmirror > 0 && r.hubmirror === k.hubmirror,
  ]);
  for (const id of ["soak.rss", "soak.fds"])
    check([id], `soak: ${id === "soak.rss" ? "VmRSS" : "open fds"} back to baseline after load`, (r) => {
      const allowed = r.reference?.value ?? Number.NaN;
      return [
        `${fmt(r.hubmirror)} (baseline ${fmt(r.registry)}, allowed ${fmt(allowed)})`,
        r.hubmirror <= allowed,
      ];
    });
  return out;
}

function pad(cells: string[][]): string {
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length))) ?? [];
  return cells
    .map((row) =>
      row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  "),
    )
    .join("\n");
}

export function renderTable(rows: Row[], targets: TargetResult[]): string {
  const tables = byColumns(rows).map(([cols, rs]) => {
    const head = ["metric", "unit", cols.a, cols.b, cols.ratio, "reference"];
    const body = rs.map((r) => [
      r.label,
      r.unit,
      fmt(r.hubmirror),
      fmt(r.registry),
      fmtRatio(ratioOf(r)),
      r.reference ? `${r.reference.name} ${fmt(r.reference.value)}` : "",
    ]);
    return pad([head, ...body]);
  });
  const lines = [tables.join("\n\n")];
  if (targets.length > 0) {
    lines.push("", "targets (issues 4, 9, 10 and 12):");
    for (const t of targets) lines.push(`  ${t.met ? "met   " : "MISSED"}  ${t.target}: ${t.value}`);
  }
  return lines.join("\n");
}

/** Markdown version of the table, for bench/README.md. */
export function renderMarkdown(rows: Row[], targets: TargetResult[]): string {
  const lines: string[] = [];
  for (const [cols, rs] of byColumns(rows)) {
    if (lines.length > 0) lines.push("");
    lines.push(
      `| metric | unit | ${cols.a} | ${cols.b} | ${cols.ratio} | reference |`,
      "|---|---|--:|--:|--:|--:|",
    );
    for (const r of rs) {
      const ref = r.reference ? `${r.reference.name} ${fmt(r.reference.value)}` : "";
      lines.push(
        `| ${r.label} | ${r.unit} | ${fmt(r.hubmirror)} | ${fmt(r.registry)} | ${fmtRatio(ratioOf(r))} | ${ref} |`,
      );
    }
  }
  lines.push("", "| target | value | |", "|---|---|---|");
  for (const t of targets) lines.push(`| ${t.target} | ${t.value} | ${t.met ? "met" : "**missed**"} |`);
  return lines.join("\n");
}

export interface Results {
  startedAt: string;
  finishedAt: string;
  mode: "full" | "smoke";
  options: Omit<Options, "only"> & { only: string[] };
  /** The hubmirror that was measured: HEAD and whether src/ had uncommitted changes at build time. */
  revision: { commit: string; srcDirty: boolean };
  machine: { cpus: number; cpuModel: string; node: string; kernel: string; loadavg: number[] };
  rows: (Row & { ratio: number | null })[];
  targets: TargetResult[];
  errors: { scenario: string; error: string }[];
  details: Record<string, unknown>;
}

export function buildResults(
  opts: Options,
  revision: Results["revision"],
  startedAt: Date,
  rows: Row[],
  errors: Results["errors"],
  details: Record<string, unknown>,
): Results {
  return {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: opts.smoke ? "smoke" : "full",
    options: { ...opts, only: [...opts.only] },
    revision,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "",
      node: process.version,
      kernel: release(),
      loadavg: loadavg(),
    },
    rows: rows.map((r) => {
      const ratio = ratioOf(r);
      return { ...r, ratio: Number.isFinite(ratio) ? ratio : null };
    }),
    targets: evaluateTargets(rows),
    errors,
    details,
  };
}

export function writeResults(path: string, results: Results): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

// `node --import tsx bench/report.ts RESULTS.json`: the Markdown table of a saved run (for bench/README.md).
if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write("usage: report.ts RESULTS.json\n");
    process.exit(2);
  }
  const results = JSON.parse(readFileSync(file, "utf8")) as Results;
  process.stdout.write(`${renderMarkdown(results.rows, results.targets)}\n`);
}
