import type { Command } from "commander";
import type { GcReport } from "../lifecycle/gc.js";
import type { GcItem, GcKind } from "../lifecycle/gc-steps.js";
import type { PurgeReport } from "../lifecycle/purge.js";
import { AdminClient, type AdminOptions, withAdminOptions } from "./admin-client.js";
import { mib } from "./common.js";

type JsonOption = { json?: boolean };

const KIND_LABELS: Record<GcKind, string> = {
  unlinked: "content of purged repositories",
  unreferenced: "unreferenced blobs",
  "orphan-file": "orphan files",
  "temp-file": "abandoned temp files",
  "stale-tag": "stale tags",
  "stale-manifest": "stale manifest records",
};

const itemName = (i: GcItem) => i.tag ?? i.path ?? i.digest ?? "?";

function gcText(r: GcReport): string {
  const verb = r.dryRun ? "would free" : "freed";
  const lines = [`gc${r.dryRun ? " (dry run)" : ""}: ${verb} ${r.items.length} items, ${mib(r.freedBytes)}`];
  for (const [kind, n] of Object.entries(r.counts)) {
    if (n === 0) continue;
    const bytes = r.items.filter((i) => i.kind === kind).reduce((s, i) => s + i.size, 0);
    lines.push(
      `  ${KIND_LABELS[kind as GcKind].padEnd(32)} ${String(n).padStart(6)}  ${mib(bytes).padStart(12)}`,
    );
  }
  if (r.backfilled > 0)
    lines.push(`references recorded for ${r.backfilled} manifests stored by an earlier version`);
  for (const i of r.items) lines.push(`${i.kind.padEnd(15)} ${itemName(i)}  ${mib(i.size)}  ${i.why}`);
  for (const s of r.skipped) lines.push(`skipped         ${itemName(s)}  ${s.skipped}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return `${lines.join("\n")}\n`;
}

function purgeText(r: PurgeReport): string {
  const lines = [
    `purged ${r.image}: ${r.tags.length} tags, ${r.removed.length} objects, ${mib(r.freedBytes)} freed`,
  ];
  for (const t of r.tags) lines.push(`  tag      ${t}`);
  for (const x of r.removed) lines.push(`  removed  ${x.digest}  ${x.kind}  ${mib(x.size)}`);
  for (const k of r.kept) lines.push(`  kept     ${k.digest}  ${k.why}`);
  return `${lines.join("\n")}\n`;
}

export function registerGc(cli: Command): void {
  withAdminOptions(cli.command("gc"))
    .description("garbage collection on the running mirror: lists what was (or, --dry-run, would be) freed")
    .option("--dry-run", "list what would be freed, change nothing")
    .option("--json", "the report as one JSON object")
    .action(async (o: AdminOptions & JsonOption & { dryRun?: boolean }) => {
      const tty = process.stderr.isTTY && !o.json;
      const done = await new AdminClient(o).stream(
        "POST",
        "/admin/gc",
        { dryRun: o.dryRun === true },
        (e) => {
          if (tty && e.type === "phase") process.stderr.write(`gc: ${String(e.phase)}…\n`);
        },
      );
      const { type: _, ...report } = done;
      process.stdout.write(o.json ? `${JSON.stringify(report)}\n` : gcText(report as unknown as GcReport));
    });
  withAdminOptions(cli.command("purge"))
    .description(
      "drops IMAGE:TAG (or IMAGE@DIGEST), or without either the whole repository, and the content nothing else uses",
    )
    .argument("<image>", "e.g. library/ubuntu:22.04, or library/ubuntu for the whole repository")
    .option("--json", "the report as one JSON object")
    .action(async (image: string, o: AdminOptions & JsonOption) => {
      const r = await new AdminClient(o).json<PurgeReport>("POST", "/admin/purge", { image });
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : purgeText(r));
    });
}
