import { MultiBar, Presets, type SingleBar } from "cli-progress";
import type { Command } from "commander";
import type { BadObject, VerifyProgress, VerifyReport } from "../lifecycle/verify.js";
import { AdminClient, type AdminEvent, type AdminOptions, withAdminOptions } from "./admin-client.js";
import { mib } from "./common.js";

/** One line per bad object: what it is, and what repair did. */
function badLine(e: BadObject): string {
  const what = `${e.result.padEnd(7)} ${e.kind.padEnd(8)} ${e.digest} ${mib(e.size)}`;
  const found = e.found ? ` (hashes to ${e.found.digest}, ${e.found.size} bytes)` : "";
  if (e.repair === "repaired") return `${what}${found}: repaired from ${e.from}`;
  if (e.repair === "failed") return `${what}${found}: not repaired: ${e.error}`;
  if (e.repair === "in-use") return `${what}${found}: not repaired: in use, run verify --repair again later`;
  return `${what}${found}`;
}

function summary(r: VerifyReport): string {
  const bad = r.corrupt.length + r.missing.length;
  let line =
    `verified ${r.objects} objects (${mib(r.bytes)}) in ${r.seconds.toFixed(1)} s: ` +
    `${r.ok} ok, ${r.corrupt.length} corrupt, ${r.missing.length} missing`;
  if (r.repair && bad > 0) line += `; ${r.repaired.length} repaired, ${r.unrepaired.length} not repaired`;
  else if (bad > 0) line += " (hubmirror verify --repair fetches them again)";
  return `${line}\n`;
}

/** On a terminal: a progress bar over the bytes, bad objects printed above it as they are found. */
class ProgressView {
  private readonly multi = new MultiBar(
    {
      stream: process.stdout,
      format:
        "[{bar}] {percentage}% | {objects}/{totalObjects} objects | {done}/{size} MiB | {speed} | ETA {eta_formatted}",
      barsize: 20,
      hideCursor: true,
      etaBuffer: 40,
      fps: 5,
    },
    Presets.shades_classic,
  );
  private bar: SingleBar | undefined;

  event(e: AdminEvent): void {
    if (e.type === "object") {
      this.multi.log(`${badLine(e as BadObject)}\n`);
      // Shown now rather than at the next redraw. Not before the bar exists: update() starts a redraw timer
      // that creating the bar would orphan.
      if (this.multi.isActive) this.multi.update();
    }
    if (e.type !== "progress") return;
    const p = e as VerifyProgress;
    const payload = {
      objects: p.objects,
      totalObjects: p.totalObjects,
      done: (p.bytes / 2 ** 20).toFixed(1),
      size: (p.totalBytes / 2 ** 20).toFixed(1),
      speed: `${mib(p.bytesPerSecond)}/s`,
    };
    this.bar ??= this.multi.create(p.totalBytes, 0, payload);
    this.bar.setTotal(p.totalBytes);
    this.bar.update(p.bytes, payload);
  }

  stop(): void {
    this.multi.stop();
  }
}

export function registerVerify(cli: Command): void {
  withAdminOptions(cli.command("verify"))
    .description(
      "re-hashes the running mirror's stored content and reports corrupt or missing objects; " +
        "exit status 1 while any remain",
    )
    .option("--repair", "remove corrupt and missing objects and fetch them again from upstream")
    .action(async (o: AdminOptions & { repair?: boolean }) => {
      // JSON lines, every event as the server sent it, when the output is read by a program.
      const view = process.stdout.isTTY
        ? new ProgressView()
        : { event: (e: AdminEvent) => process.stdout.write(`${JSON.stringify(e)}\n`), stop() {} };
      let done: AdminEvent;
      try {
        done = await new AdminClient(o).stream("POST", "/admin/verify", { repair: o.repair === true }, (e) =>
          view.event(e),
        );
      } finally {
        view.stop();
      }
      const report = done as AdminEvent & VerifyReport;
      if (process.stdout.isTTY) process.stdout.write(summary(report));
      if (report.unrepaired.length > 0) process.exitCode = 1;
    });
}
