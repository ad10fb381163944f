// Measuring helpers: process counters from /proc, wrk runs, medians and percentiles, alternation.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);
const CLK_TCK = 100; // USER_HZ: 100 on every Linux architecture Node supports
const MiB = 1024 * 1024;

export interface ProcStats {
  /** VmHWM: the peak resident set size so far. */
  peakRssMiB: number;
  rssMiB: number;
  /** utime + stime of every thread. */
  cpuS: number;
  /** utime + stime of the main thread (for Node: the event loop; the rest is GC helpers and the libuv pool). */
  mainCpuS: number;
}

/** utime + stime in seconds from a /proc stat line. */
function statCpu(stat: string): number {
  // Fields after "(comm) ": state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

export function procStats(pid: number): ProcStats {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return {
    peakRssMiB: kib("VmHWM") / 1024,
    rssMiB: kib("VmRSS") / 1024,
    cpuS: statCpu(readFileSync(`/proc/${pid}/stat`, "utf8")),
    mainCpuS: statCpu(readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8")),
  };
}

/** Open file descriptors of a process (its /proc/PID/fd entries). */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The one process whose command line contains `needle` (e.g. a config path unique to it). */
export function findPid(needle: string): number {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(needle)) found.push(Number(entry));
    } catch {
      // gone
    }
  }
  if (found.length !== 1) throw new Error(`${found.length} processes match ${needle}`);
  return found[0] as number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile, p in [0, 100]. */
export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

export const mibPerS = (bytes: number, ms: number) => bytes / MiB / (ms / 1000);
export const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Runs `fn` for every target in `rounds` rounds, alternating who goes first (A B, B A, …) so that drift on a noisy
 * machine hits both alike. Returns every sample per target name.
 */
export async function alternate<T extends { name: string }, R>(
  rounds: number,
  targets: T[],
  fn: (target: T, round: number) => Promise<R>,
): Promise<Map<string, R[]>> {
  const samples = new Map<string, R[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) samples.get(t.name)?.push(await fn(t, r));
  }
  return samples;
}

export interface WrkResult {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers that were not 2xx/3xx. */
  non2xx: number;
  socketErrors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latencyMs(out: string, pct: string): number {
  const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
  return m ? Number(m[1]) * (UNIT_MS[m[2] as string] ?? Number.NaN) : Number.NaN;
}

export function parseWrk(out: string): WrkResult {
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? Number.NaN),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    p50Ms: latencyMs(out, "50"),
    p99Ms: latencyMs(out, "99"),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

/** wrk with one thread (the machine has two cores: leave the other to the mirror), keep-alive connections. */
export async function wrk(
  url: string,
  opts: { connections: number; seconds: number; headers?: Record<string, string> },
): Promise<WrkResult & { raw: string }> {
  const args = ["-t1", `-c${opts.connections}`, `-d${opts.seconds}s`, "--timeout", "5s", "--latency"];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push("-H", `${k}: ${v}`);
  const { stdout } = await run("wrk", [...args, url], { timeout: (opts.seconds + 30) * 1000 });
  return { ...parseWrk(stdout), raw: stdout };
}

/**
 * Waits until every process in `pids` is idle: two consecutive windows of `windowMs` with at most one clock tick
 * of CPU each (a proxy may keep working after its client is done: registry:2 stores a blob with a second upstream
 * GET in the background, hubmirror fsyncs and commits). Gives up after `maxMs`.
 */
export async function quiesce(pids: number[], windowMs: number, maxMs = 30_000): Promise<number> {
  const started = Date.now();
  let quiet = 0;
  let last = pids.map((p) => procStats(p).cpuS);
  while (quiet < 2 && Date.now() - started < maxMs) {
    await new Promise((r) => setTimeout(r, windowMs));
    const now = pids.map((p) => procStats(p).cpuS);
    quiet = now.every((c, i) => c - (last[i] ?? 0) <= 1 / CLK_TCK + 1e-9) ? quiet + 1 : 0;
    last = now;
  }
  return Date.now() - started;
}
