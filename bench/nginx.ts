// nginx serving one file with sendfile: the ceiling row (what the kernel can push over loopback from page cache).
// Runs with its own config and prefix in a temp dir, never as the system service.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../test/fixtures/upstream-registry.js";

export interface Nginx {
  /** URL of the file. */
  fileUrl: string;
  stop(): Promise<void>;
}

export async function startNginx(file: string, dir: string): Promise<Nginx> {
  mkdirSync(join(dir, "temp"), { recursive: true });
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  const temp = (kind: string) => `${kind}_temp_path ${join(dir, "temp", kind)};`;
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? "user root root;" : ""}
worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  ${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(temp).join("\n  ")}
  server {
    listen 127.0.0.1:${port};
    root ${dirname(file)};
  }
}
`,
  );
  const child: ChildProcess = spawn(
    "setpriv",
    ["--pdeathsig", "KILL", "--", "nginx", "-p", dir, "-c", conf, "-e", join(dir, "error.log")],
    {
      stdio: "ignore",
    },
  );
  const exited = once(child, "exit");
  const fileUrl = `http://127.0.0.1:${port}/${basename(file)}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}); see ${dir}/error.log`);
    const res = await fetch(fileUrl, { method: "HEAD" }).catch(() => undefined);
    if (res?.ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`nginx not serving ${fileUrl}; see ${dir}/error.log`);
    }
    await sleep(50);
  }
  return {
    fileUrl,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGQUIT"); // graceful; the master takes its worker with it
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
