// hubmirror as users run it: compiled by the project's own build (tsc) and started with plain `node`, not through
// tsx (whose loader adds ~25 MiB of RSS) — test/mirror-process.ts runs it through tsx and keeps its pid private.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createReadStream, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "../test/fixtures/upstream-registry.js";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const START_TIMEOUT_MS = 20_000;
const BUILD_PREFIX = ".bench-build-";
const STALE_BUILD_MS = 24 * 3600_000;

/**
 * Compiles src/ into `.bench-build-<pid>-<random>/` at the checkout's root, a sibling of `dist/` as in a real
 * build: the compiled files resolve the project's dependencies and `../package.json`. Not under
 * node_modules/.cache: a worktree's node_modules may be a symlink shared with another checkout, whose runs (in
 * another pid namespace, same small pids) would remove this one's build. tsc emits even with type errors, which a
 * src edit in progress may have: those are reported, not fatal. Returns the build directory; remove it with
 * `removeBuild`.
 */
export function buildHubmirror(log: (msg: string) => void): string {
  removeStaleBuilds();
  const dir = join(REPO_ROOT, `${BUILD_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`);
  const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  const r = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", dir], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  });
  if (!existsSync(join(dir, "cli.js"))) throw new Error(`tsc produced no cli.js:\n${r.stdout}${r.stderr}`);
  if (r.status !== 0) log(`warning: tsc reported errors (benchmarking what it emitted):\n${r.stdout}`);
  return dir;
}

/**
 * Builds of runs that died without removing theirs: older than a day (a pid says nothing across the pid
 * namespaces test/netns-run.sh makes).
 */
function removeStaleBuilds(): void {
  for (const entry of readdirSync(REPO_ROOT)) {
    const path = join(REPO_ROOT, entry);
    if (entry.startsWith(BUILD_PREFIX) && Date.now() - statSync(path).mtimeMs > STALE_BUILD_MS)
      rmSync(path, { recursive: true, force: true });
  }
}

export function removeBuild(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface HubmirrorProcess {
  url: string;
  pid: number;
  /** Its stdout/stderr (the JSON log). */
  logPath: string;
  /** Its log lines at level warn and above (the first `max`). */
  warnings(max?: number): Promise<string[]>;
  /** SIGKILL, as a crash would (no cleanup of any kind); resolves once it is gone. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHubmirror(opts: {
  buildDir: string;
  upstream: string;
  data: string;
  /** Node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** More `serve` flags (e.g. --storage s3://… --redirect presigned) and environment (e.g. AWS credentials). */
  args?: string[];
  env?: Record<string, string>;
  /** Default: a free one. A restart on the same port keeps the URL its clients have. */
  port?: number;
}): Promise<HubmirrorProcess> {
  const port = opts.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  mkdirSync(opts.data, { recursive: true });
  const logPath = join(opts.data, "..", "hubmirror.log");
  const out = openSync(logPath, "a");
  const args = [
    ...(opts.nodeArgs ?? []),
    join(opts.buildDir, "cli.js"),
    "serve",
    "--listen",
    `127.0.0.1:${port}`,
    "--data",
    opts.data,
    "--upstream",
    opts.upstream,
    ...(opts.args ?? []),
  ];
  // setpriv: the kernel kills the mirror if the harness dies without cleaning up. It execs: same pid.
  const child: ChildProcess = spawn("setpriv", ["--pdeathsig", "KILL", "--", process.execPath, ...args], {
    env: { ...process.env, NO_PROXY: "127.0.0.1", no_proxy: "127.0.0.1", ...opts.env },
    stdio: ["ignore", out, out],
  });
  const exited = once(child, "exit");
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`hubmirror exited during startup; see ${logPath}`);
    }
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`hubmirror not answering after ${START_TIMEOUT_MS} ms; see ${logPath}`);
    }
    await sleep(50);
  }
  return {
    url,
    pid: child.pid as number,
    logPath,
    async warnings(max = 50) {
      const out: string[] = [];
      for await (const line of createInterface({ input: createReadStream(logPath) })) {
        const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 50); // not JSON: a crash trace, keep it
        if (level >= 40 && out.length < max) out.push(line);
      }
      return out;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    },
  };
}
