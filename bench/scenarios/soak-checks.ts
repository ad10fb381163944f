// What the soak checks once its load has stopped: the final mirror process's memory and descriptors against its
// first process's baseline, `hubmirror verify` over the store, every file on disk against its name, every tag.
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { verifiedStore } from "../../test/fixtures/verify-store.js";
import { get } from "../http.js";
import { openFds, procStats } from "../measure.js";
import { metric } from "./eviction-load.js";
import type { SoakImage } from "./soak-worker.js";

const run = promisify(execFile);

export interface Footprint {
  rssMiB: number;
  fds: number;
}

export const footprint = (pid: number): Footprint => ({ rssMiB: procStats(pid).rssMiB, fds: openFds(pid) });

/** V8's heap in use and the memory outside it (Buffers), from the mirror's metrics: what RSS is made of. */
export async function heap(url: string): Promise<{ heapUsedMiB: number; externalMiB: number }> {
  const mib = async (name: string) => (await metric(url, name)) / 2 ** 20;
  return {
    heapUsedMiB: await mib("hubmirror_nodejs_heap_size_used_bytes"),
    externalMiB: await mib("hubmirror_nodejs_external_memory_bytes"),
  };
}

/**
 * Polls the process until it is within `allowed` (idle connections close on timers, V8 shrinks its heap after
 * load), at most `maxMs`: the last sample, and how long it took.
 */
export async function settle(
  pid: number,
  allowed: Footprint,
  maxMs: number,
): Promise<{ after: Footprint; ms: number }> {
  const started = performance.now();
  for (;;) {
    const after = footprint(pid);
    const ms = performance.now() - started;
    if ((after.rssMiB <= allowed.rssMiB && after.fds <= allowed.fds) || ms >= maxMs) return { after, ms };
    await sleep(500);
  }
}

/** Temp files of unfinished fills in a data directory (a restarted mirror removes them). */
export async function tempFiles(data: string): Promise<number> {
  let n = 0;
  for (const dir of [join(data, "storage", "_uploads"), join(data, "spool")])
    n += (await readdir(dir).catch(() => [])).length;
  return n;
}

/** The `done` line of `hubmirror verify` (src/lifecycle/verify.ts VerifyReport), as far as the soak reads it. */
export interface VerifyResult {
  objects: number;
  bytes: number;
  corrupt: string[];
  missing: string[];
}

/** `hubmirror verify --server URL` of the build, its JSON lines read to the report (exit status 1 when bad). */
export async function verifyCli(buildDir: string, url: string): Promise<VerifyResult> {
  const args = [join(buildDir, "cli.js"), "verify", "--server", url];
  const stdout = await run(process.execPath, args, { maxBuffer: 64 << 20 }).then(
    (r) => r.stdout,
    (err: Error & { stdout?: string }) => {
      if (!err.stdout) throw err;
      return err.stdout;
    },
  );
  const done = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { type?: string } & VerifyResult;
  if (done.type !== "done") throw new Error(`hubmirror verify ended without a report: ${stdout.slice(-500)}`);
  return done;
}

/** Every blob file on disk hashes to its name: their count, or the first that does not. */
export async function diskCheck(data: string): Promise<{ files: number; bad?: string }> {
  try {
    return { files: (await verifiedStore(data)).size };
  } catch (err) {
    return { files: 0, bad: (err as Error).message };
  }
}

/** Each image's tag through the mirror: the tags that do not answer 200 with the pushed manifest's bytes. */
export async function unresolvedTags(url: string, images: SoakImage[], accept: string): Promise<string[]> {
  const bad: string[] = [];
  for (const img of images) {
    const what = `${img.repo}:${img.tag}`;
    const r = await get(`${url}/v2/${img.repo}/manifests/${img.tag}`, {
      hash: true,
      headers: { Accept: accept },
      timeoutMs: 60_000,
    }).catch((err: Error) => err);
    if (r instanceof Error) bad.push(`${what}: ${r.message}`);
    else if (r.status !== 200 || `sha256:${r.sha256}` !== img.manifest.digest)
      bad.push(`${what}: ${r.status}, sha256:${r.sha256}`);
  }
  return bad;
}
