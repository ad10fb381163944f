import { randomUUID } from "node:crypto";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/*
 * Temp files (uploads in progress, fan-out spools) may sit in a directory that several processes share: workers
 * of one machine, or nodes on shared storage. So a process never empties such a directory: it removes only files
 * whose writer is known to be dead (same host, pid gone), and files nobody has written for `maxAgeMs`.
 */

const HOST = hostname().replace(/[^A-Za-z0-9.]/g, "_");

/** A temp file name that says which process writes it: `<host>-<pid>-<uuid>`. */
export function tempName(): string {
  return `${HOST}-${process.pid}-${randomUUID()}`;
}

async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed process can linger as a zombie until it is reaped; it writes nothing more.
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return !/^State:\s+Z/m.test(status);
}

export interface StaleTempFile {
  path: string;
  size: number;
  why: string;
}

/**
 * Why the temp file at `path` is garbage, or undefined while it may be written (or is gone). `serving`: this
 * process is running and its own files are live; at start they are not — one with our pid was left by an earlier
 * process that had it.
 */
export async function staleTempFile(
  path: string,
  maxAgeMs: number,
  serving = false,
): Promise<StaleTempFile | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st) return undefined;
  const m = /^(.*)-(\d+)-[0-9a-f-]{36}$/.exec(path.slice(path.lastIndexOf("/") + 1));
  const pid = m?.[1] === HOST ? Number(m[2]) : undefined;
  if (pid === process.pid) {
    return serving ? undefined : { path, size: st.size, why: "left by an earlier process with this pid" };
  }
  if (pid !== undefined && !(await processAlive(pid))) {
    return { path, size: st.size, why: `its writer (pid ${pid} on this host) is gone` };
  }
  const idle = Date.now() - st.mtimeMs;
  if (idle <= maxAgeMs) return undefined;
  return { path, size: st.size, why: `nobody wrote to it for ${Math.round(idle / 60_000)} min` };
}

/** The temp files in `dir` that are garbage (see staleTempFile). */
export async function staleTempFiles(
  dir: string,
  maxAgeMs: number,
  serving = false,
): Promise<StaleTempFile[]> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  const out: StaleTempFile[] = [];
  for (const name of names) {
    const stale = await staleTempFile(join(dir, name), maxAgeMs, serving);
    if (stale) out.push(stale);
  }
  return out;
}

/** At start: removes the temp files in `dir` left by dead processes of this host or untouched for `maxAgeMs`. */
export async function sweepTempFiles(dir: string, maxAgeMs: number): Promise<number> {
  const stale = await staleTempFiles(dir, maxAgeMs);
  for (const f of stale) await rm(f.path, { recursive: true, force: true });
  return stale.length;
}
