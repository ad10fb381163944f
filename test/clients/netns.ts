// Guard for tests that drive real container clients: they fall back to registry-1.docker.io when the mirror
// fails, so they may only run where loopback is the sole interface (see test/netns-run.sh).
import { AssertionError } from "node:assert";
import { readFileSync } from "node:fs";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { exec, removeTree, tempDir } from "./proc.js";

/**
 * The interfaces of this process's network namespace. Read from /proc/self/net/dev rather than
 * /sys/class/net: sysfs shows the namespace of whoever mounted it, /proc/self/net always our own.
 */
export function networkInterfaces(): string[] {
  return readFileSync("/proc/self/net/dev", "utf8")
    .split("\n")
    .slice(2) // two header lines
    .map((line) => line.split(":")[0]?.trim() ?? "")
    .filter((name) => name !== "");
}

/** Throws unless `lo` is the only interface, so a test run outside the wrapper fails before it can fall back. */
export function assertLoopbackOnly(): void {
  const interfaces = networkInterfaces();
  if (interfaces.length === 1 && interfaces[0] === "lo") return;
  throw new AssertionError({
    message:
      `network interfaces ${JSON.stringify(interfaces)}: real clients could reach registry-1.docker.io; ` +
      "run this test as `bash test/netns-run.sh node --import tsx --test FILE`",
    actual: interfaces,
    expected: ["lo"],
    operator: "deepStrictEqual",
  });
}

/**
 * Makes `names` resolve to `address` (127.0.0.1, or one added by addLoopbackAddress) for every process of this
 * mount namespace: bind-mounts a copy of /etc/hosts with them added over /etc/hosts. Only inside
 * test/netns-run.sh (its mount namespace is private, so the host's /etc/hosts is untouched); resolves with the undo.
 */
export async function resolveToLoopback(
  names: readonly string[],
  address = "127.0.0.1",
): Promise<() => Promise<void>> {
  assertLoopbackOnly();
  const dir = await tempDir("hosts");
  const file = join(dir, "hosts");
  await writeFile(file, `${await readFile("/etc/hosts", "utf8")}\n${address} ${names.join(" ")}\n`);
  await exec("mount", ["--bind", file, "/etc/hosts"]);
  return async () => {
    await exec("umount", ["/etc/hosts"]);
    await removeTree(dir);
  };
}

/**
 * Adds `address` (e.g. 192.0.2.10, a documentation address) to `lo` of this network namespace; resolves with the
 * undo. For a server that clients must not take for localhost: dockerd treats 127.0.0.0/8 as an insecure registry
 * and skips certificate checks there.
 */
export async function addLoopbackAddress(address: string): Promise<() => Promise<void>> {
  assertLoopbackOnly();
  await exec("ip", ["address", "add", `${address}/32`, "dev", "lo"]);
  return async () => {
    await exec("ip", ["address", "del", `${address}/32`, "dev", "lo"]);
  };
}

/**
 * Adds `files` (paths relative to `etcDir`, e.g. `certs.d/HOST:PORT/ca.crt`) to the existing directory `etcDir`
 * (/etc/docker) for every process of this mount namespace: bind-mounts a copy with them over it. Only inside
 * test/netns-run.sh, so the host's /etc is untouched; resolves with the undo.
 */
export async function addToEtc(
  etcDir: string,
  files: Record<string, string | Buffer>,
): Promise<() => Promise<void>> {
  assertLoopbackOnly();
  const dir = await tempDir("etc");
  await cp(etcDir, dir, { recursive: true, preserveTimestamps: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  await exec("mount", ["--bind", dir, etcDir]);
  return async () => {
    await exec("umount", [etcDir]);
    await removeTree(dir);
  };
}
