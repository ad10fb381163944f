import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { parsePlatform } from "../lifecycle/platforms.js";
import type { PrefetchEvent, PrefetchSummary } from "../lifecycle/prefetch-events.js";
import { AdminClient, type AdminEvent, type AdminOptions, withAdminOptions } from "./admin-client.js";
import { CommandError } from "./common.js";
import { PrefetchDisplay, summaryText } from "./prefetch-display.js";

interface PrefetchOptions extends AdminOptions {
  platform: string[];
  fromFile?: string;
  json?: boolean;
}

/** One image a line; `#` starts a comment; blank lines are skipped. */
async function imagesFromFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new CommandError(`cannot read --from-file ${file}: ${(err as Error).message}`);
  }
  return text
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "");
}

/** `--platform a,b` (repeatable), checked here so a typo fails before anything is fetched. */
function platforms(values: string[]): string[] {
  const list = values
    .flatMap((v) => v.split(","))
    .map((p) => p.trim())
    .filter((p) => p !== "");
  for (const p of list) {
    try {
      parsePlatform(p);
    } catch (err) {
      throw new CommandError((err as Error).message);
    }
  }
  return list;
}

async function prefetch(args: string[], o: PrefetchOptions): Promise<void> {
  const images = [...args, ...(o.fromFile ? await imagesFromFile(o.fromFile) : [])];
  if (images.length === 0) throw new CommandError("no images: give IMAGE arguments or --from-file FILE");
  const body = { images, platforms: platforms(o.platform) };
  const display = process.stdout.isTTY && !o.json ? new PrefetchDisplay() : undefined;
  // Ctrl-C gives the terminal back (the bar hides the cursor); the mirror stops the work when we hang up.
  if (display) {
    process.once("SIGINT", () => {
      display.stop();
      process.exit(130);
    });
  }
  // The last event, `done`, is the summary: printed as a JSON line, shown by the display once it stops.
  const onEvent = (e: AdminEvent) => {
    if (!display) process.stdout.write(`${JSON.stringify(e)}\n`);
    else if (e.type !== "done") display.onEvent(e as PrefetchEvent);
  };
  let summary: PrefetchSummary | undefined;
  try {
    const done = await new AdminClient(o).stream("POST", "/admin/prefetch", body, onEvent);
    summary = done as unknown as PrefetchSummary;
  } finally {
    display?.stop(summary);
  }
  if (display) process.stdout.write(summaryText(summary));
  if (summary.failures.length > 0) {
    const reasons = summary.failures.map((f) => `  ${f.image}: ${f.error}`).join("\n");
    throw new CommandError(`${summary.failures.length} of ${images.length} images failed:\n${reasons}`);
  }
}

export function registerPrefetch(cli: Command): void {
  withAdminOptions(cli.command("prefetch"))
    .description("pulls images into the running mirror's cache: IMAGE[:TAG|@DIGEST]…")
    .argument("[images...]", "images, e.g. library/ubuntu:24.04, ghcr.io/org/app@sha256:…")
    .option(
      "--platform <list>",
      "platforms of multi-platform images, e.g. linux/amd64,linux/arm/v7 (default: all but attestations)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--from-file <file>", "more images, one a line (# comments and blank lines ignored)")
    .option("--json", "JSON lines (the events) even on a terminal")
    .action((images: string[], o: PrefetchOptions) => prefetch(images, o));
}
