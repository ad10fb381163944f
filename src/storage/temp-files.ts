import { randomUUID } from "node:crypto";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/*
 * Temp files (uploads in progress, fan-out spools) may sit in a directory that several processes share: workers
 * of one machine, or nodes on shared storage. So a process never empties such a directory at start: it removes
 * only files whose writer is known to be dead (same host, pid gone), and files nobody has written for `maxAgeMs`.
 */

const HOST = hostname().replace(/[^A-Za-z0-9.]/g, "_");

/** A temp file name that says which process writes it: `<host>-<pid>-<uuid>`. */
export function tempName(): string {
  return `${HOST}-${process.pid}-${randomUUID()}`;
}

async function processAlive(pid: number): Promise<boolean> {
  // At start no file is ours yet: one with our pid was left by an earlier process that had it.
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed process can linger as a zombie until it is reaped; it writes nothing more.
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return !/^State:\s+Z/m.test(status);
}

/** Removes the temp files in `dir` left by dead processes of this host or untouched for `maxAgeMs`. */
export async function sweepTempFiles(dir: string, maxAgeMs: number): Promise<number> {
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  let removed = 0;
  const now = Date.now();
  for (const name of names) {
    const path = join(dir, name);
    const m = /^(.*)-(\d+)-[0-9a-f-]{36}$/.exec(name);
    const orphan = m?.[1] === HOST && !(await processAlive(Number(m[2])));
    const st = await stat(path).catch(() => undefined);
    if (!st) continue;
    if (orphan || now - st.mtimeMs > maxAgeMs) {
      await rm(path, { recursive: true, force: true });
      removed++;
    }
  }
  return removed;
}
