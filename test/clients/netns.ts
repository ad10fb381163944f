// Guard for tests that drive real container clients: they fall back to registry-1.docker.io when the mirror
// fails, so they may only run where loopback is the sole interface (see test/netns-run.sh).
import { AssertionError } from "node:assert";
import { readFileSync } from "node:fs";

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
