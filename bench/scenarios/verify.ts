// (9) `hubmirror verify` (issue 10): the run's hubmirror re-hashes its whole filesystem store through its admin
// API (`POST /admin/verify`, the NDJSON answer read to the `done` report), against `sha256sum` over the same files
// (one process, all files, as an operator would check them), with `openssl dgst -sha256` (OpenSSL's SHA-256, which
// Node's hash also runs) as the reference. Seconds per GiB of store, `--rounds` rounds in rotating order, medians.
// The store: the big and herd blobs (fetched first, whatever ran before) and what earlier scenarios cached.
import { execFile } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { getFollowing } from "../http.js";
import { median, procStats } from "../measure.js";
import type { Columns, Row } from "../report.js";
import { blobOf, type Ctx, columnRow, MIB, type ScenarioResult, sizeLabel } from "./common.js";

const run = promisify(execFile);
const GIB = 1024 * MIB;
const COLUMNS: Columns = { a: "verify", b: "sha256sum", ratio: "verify/sha256sum" };

/** What `done` carries (src/lifecycle/verify.ts VerifyReport), as far as the bench reads it. */
interface Report {
  objects: number;
  bytes: number;
  corrupt: string[];
  missing: string[];
}

/** Every stored file, `<root>/sha256/<xx>/<hex>/data`, with the hex it must hash to. */
function storedFiles(root: string): { path: string; hex: string; size: number }[] {
  const files = [];
  for (const prefix of readdirSync(join(root, "sha256"))) {
    for (const hex of readdirSync(join(root, "sha256", prefix))) {
      const path = join(root, "sha256", prefix, hex, "data");
      files.push({ path, hex, size: statSync(path).size });
    }
  }
  return files;
}

/** POST /admin/verify, read to the end: the report and the wall time from the request to the last line. */
async function adminVerify(url: string): Promise<{ seconds: number; report: Report }> {
  const started = performance.now();
  const res = await fetch(`${url}/admin/verify`, { method: "POST", body: "{}" });
  const lines = (await res.text()).trim().split("\n");
  const seconds = (performance.now() - started) / 1000;
  const done = JSON.parse(lines.at(-1) ?? "{}") as { type: string; message?: string } & Report;
  if (res.status !== 200 || done.type !== "done") throw new Error(`verify: ${res.status} ${lines.at(-1)}`);
  return { seconds, report: done };
}

/** Runs a hashing command over the files: wall seconds, and how many files did not hash to their name. */
async function hashCommand(
  cmd: string,
  args: string[],
  files: { path: string; hex: string }[],
  parse: (line: string) => [path: string, hex: string] | undefined,
): Promise<{ seconds: number; wrong: number }> {
  const started = performance.now();
  const { stdout } = await run(cmd, [...args, ...files.map((f) => f.path)], { maxBuffer: 64 << 20 });
  const seconds = (performance.now() - started) / 1000;
  const entries = stdout.trim().split("\n").map(parse);
  const got = new Map(entries.filter((e): e is [string, string] => e !== undefined));
  return { seconds, wrong: files.filter((f) => got.get(f.path) !== f.hex).length };
}

const sha256sum = (files: { path: string; hex: string }[]) =>
  hashCommand("sha256sum", ["--"], files, (l) => {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(l);
    return m ? [m[2] as string, m[1] as string] : undefined;
  });
const openssl = (files: { path: string; hex: string }[]) =>
  hashCommand("openssl", ["dgst", "-sha256"], files, (l) => {
    const m = /^SHA2?-?256\((.+)\)= ([0-9a-f]{64})$/.exec(l);
    return m ? [m[1] as string, m[2] as string] : undefined;
  });

export async function verify(ctx: Ctx): Promise<ScenarioResult> {
  const { env, opts, log } = ctx;
  const hub = env.mirrors[0];
  for (const img of [...env.big, ...env.herd]) {
    const blob = blobOf(img);
    await getFollowing(hub.url + blob.path, { length: blob.size });
  }
  await ctx.quiet();
  const files = storedFiles(join(env.hubmirrorData, "storage", "blobs"));
  const bytes = files.reduce((n, f) => n + f.size, 0);
  const what = `${bytes >= GIB ? `${(bytes / GIB).toFixed(2)} GiB` : sizeLabel(bytes)}, ${files.length} files`;
  // Unmeasured: the store is whole and indexed as on disk, and every file is in the page cache for all three.
  const first = await adminVerify(hub.url);
  const { report } = first;
  if (
    report.corrupt.length + report.missing.length > 0 ||
    report.bytes !== bytes ||
    report.objects !== files.length
  )
    throw new Error(`verify before measuring: ${JSON.stringify(report)}, files on disk: ${what}`);

  const ways = {
    verify: async () => {
      const cpu = procStats(hub.pid).cpuS;
      const r = await adminVerify(hub.url);
      return {
        seconds: r.seconds,
        wrong: r.report.corrupt.length + r.report.missing.length,
        cpuS: procStats(hub.pid).cpuS - cpu,
      };
    },
    sha256sum: () => sha256sum(files),
    openssl: () => openssl(files),
  };
  const names = Object.keys(ways) as (keyof typeof ways)[];
  const samples = new Map<string, { seconds: number; wrong: number; cpuS?: number }[]>(
    names.map((n) => [n, []]),
  );
  for (let round = 0; round < opts.rounds; round++) {
    // Rotating order (verify first, then sha256sum first, …): drift on a noisy machine hits each alike.
    for (const name of [...names.slice(round % 3), ...names.slice(0, round % 3)]) {
      await ctx.quiet();
      log(`verify: ${name} over the store (${what}), round ${round + 1}`);
      samples.get(name)?.push(await ways[name]());
    }
  }
  const perGiB = (name: string) => median((samples.get(name) ?? []).map((s) => s.seconds)) / (bytes / GIB);
  const wrong = (name: string) => Math.max(...(samples.get(name) ?? []).map((s) => s.wrong));
  const pair = columnRow(COLUMNS);
  const rows: Row[] = [
    {
      ...pair(
        "verify.perGiB",
        `verify: time per GiB of store (${what})`,
        "s/GiB",
        "lower",
        perGiB("verify"),
        perGiB("sha256sum"),
      ),
      reference: { name: "openssl", value: perGiB("openssl") },
    },
    pair(
      "verify.wrong",
      "verify: objects reported bad, files not matching their name (max)",
      "count",
      "none",
      wrong("verify"),
      wrong("sha256sum"),
    ),
  ];
  return { rows, details: { bytes, files: files.length, samples: Object.fromEntries(samples) } };
}
