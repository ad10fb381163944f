import type { Command } from "commander";
import type { CacheStatus } from "../lifecycle/lifecycle.js";
import type { Pin } from "../metadata/store.js";
import { AdminClient, type AdminOptions, withAdminOptions } from "./admin-client.js";
import { mib } from "./common.js";

type JsonOption = { json?: boolean };

function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : text());
}

function pinName(p: Pin): string {
  return `${p.registry}/${p.repo}${p.reference.includes(":") ? "@" : ":"}${p.reference}`;
}

function statusText(s: CacheStatus): string {
  const lines = [
    `size        ${mib(s.bytes)}${s.maxSize === null ? " (no cap)" : ` of ${mib(s.maxSize)} cap`}`,
    `blobs       ${s.blobs.count} (${mib(s.blobs.bytes)})`,
    `manifests   ${s.manifests.count} (${mib(s.manifests.bytes)})`,
    `oldest use  ${s.oldestAccess ?? "-"}`,
    `in use      ${s.inUse}`,
  ];
  if (s.diskFree !== null) {
    const mark = s.minFreeDisk === null ? "" : ` (keeps ${mib(s.minFreeDisk)} free)`;
    lines.push(`disk free   ${mib(s.diskFree)}${mark}`);
  }
  lines.push(
    `pinned      ${s.pinned.length === 0 ? "-" : s.pinned.map((p) => `${pinName(p)} [${p.source}]`).join(", ")}`,
  );
  return `${lines.join("\n")}\n`;
}

export function registerCache(cli: Command): void {
  const cache = cli.command("cache").description("the running mirror's cache");
  withAdminOptions(cache.command("status"))
    .description("size, cap, object counts, oldest access, pinned images")
    .option("--json", "one JSON object")
    .action(async (o: AdminOptions & JsonOption) => {
      const s = await new AdminClient(o).json<CacheStatus>("GET", "/admin/cache");
      print(o.json === true, s, () => statusText(s));
    });
  withAdminOptions(cli.command("pin"))
    .description("keeps an image's content from eviction: IMAGE[:TAG|@DIGEST]")
    .argument("<image>")
    .option("--json", "one JSON object")
    .action(async (image: string, o: AdminOptions & JsonOption) => {
      const pin = await new AdminClient(o).json<Pin>("POST", "/admin/pins", { image });
      print(o.json === true, pin, () => `pinned ${pinName(pin)}\n`);
    });
  withAdminOptions(cli.command("unpin"))
    .description("lets a pinned image be evicted again")
    .argument("<image>")
    .option("--json", "one JSON object")
    .action(async (image: string, o: AdminOptions & JsonOption) => {
      const pin = await new AdminClient(o).json<Pin>("DELETE", "/admin/pins", { image });
      print(o.json === true, pin, () => `unpinned ${pinName(pin)}\n`);
    });
}
