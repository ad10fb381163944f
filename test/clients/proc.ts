// Process plumbing shared by the client harnesses: one-shot commands with their stderr in the error, and
// long-running daemons stopped by PID (SIGTERM, then SIGKILL) so no test leaves one behind.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Runs a command to completion (2 min at most); resolves with stdout, rejects with the command line and its stderr. */
export function exec(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { env, timeout: 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        // podman exits 0 on the timeout's SIGTERM: a killed command has failed whatever its exit code.
        if (err || child.killed) {
          const status = child.killed ? "timed out" : `exit ${err?.code ?? err?.signal}`;
          reject(new Error(`${cmd} ${args.join(" ")}: ${status}\n${stderr.trim()}`));
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `hubmirror-${prefix}-`));
}

/** Deletes a daemon's temp dir, first unmounting anything still mounted below it (rm would descend into it). */
export async function removeTree(dir: string): Promise<void> {
  const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
  const below = mountinfo
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mnt) => mnt.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mnt of below) await exec("umount", ["--lazy", mnt]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

export class Daemon {
  private readonly exited: Promise<void>;
  private done = false;

  private constructor(
    readonly name: string,
    readonly logPath: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        this.done = true;
        resolve();
      });
    });
  }

  /** Starts `cmd` with stdout and stderr appended to `logPath` (read it when something goes wrong). */
  static spawn(name: string, cmd: string, args: readonly string[], logPath: string): Daemon {
    const fd = openSync(logPath, "a");
    try {
      const child = spawn(cmd, args, { stdio: ["ignore", fd, fd] });
      if (child.pid === undefined) throw new Error(`${name}: could not spawn ${cmd}`);
      return new Daemon(name, logPath, child);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Polls `probe` until it resolves true. Rejects, with the end of the daemon's log (the caller's cleanup may
   * delete the file), if the daemon exits first or is not ready within `timeoutMs`.
   */
  async waitReady(probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.done && Date.now() < deadline) {
      if (await probe().catch(() => false)) return;
      await sleep(100);
    }
    const log = (await readFile(this.logPath, "utf8").catch(() => "")).slice(-4000);
    const why = this.done ? "exited during startup" : `not ready after ${timeoutMs} ms`;
    throw new Error(`${this.name} ${why}; end of ${this.logPath}:\n${log}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Safe to call twice. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.done) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** SIGKILLs the process a pidfile names if it still runs `comm` (a pid may be reused once it is gone). */
export async function killStray(pidFile: string, comm: string): Promise<void> {
  const pid = Number((await readFile(pidFile, "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  const running = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "")).trim();
  if (running === comm) process.kill(pid, "SIGKILL");
}
