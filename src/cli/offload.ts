import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import type { ConfigOverrides } from "../config/load.js";
import { SqliteStore } from "../metadata/sqlite-store.js";
import type { OffloadStatus } from "../metadata/store.js";
import { config, configOption, dataOption, mib } from "./common.js";

async function offloadStatus(overrides: ConfigOverrides, json: boolean): Promise<void> {
  const c = config(overrides);
  const file = join(resolve(c.data), "hubmirror.db");
  if (!existsSync(file)) {
    process.stderr.write(`hubmirror: no hubmirror database in ${resolve(c.data)} (see --data, --config)\n`);
    process.exit(1);
  }
  const meta = new SqliteStore(file);
  let status: OffloadStatus;
  try {
    status = await meta.offloadStatus({ minSize: c.offload.minSize, minRequests: c.offload.minRequests });
  } finally {
    await meta.close();
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ target: c.offload.url ?? null, ...status })}\n`);
    return;
  }
  process.stdout.write(`offload target: ${c.offload.url ?? "none configured"}\n`);
  for (const [state, { count, bytes }] of Object.entries(status)) {
    process.stdout.write(
      `${state.padEnd(8)} ${String(count).padStart(8)} blobs ${mib(bytes).padStart(14)}\n`,
    );
  }
}

export function registerOffload(cli: Command): void {
  const offload = cli.command("offload").description("tiered mode: the offload target");
  offload
    .command("status")
    .description("blobs synced to the offload target, pending and failed, with their bytes")
    .addOption(configOption())
    .addOption(dataOption())
    .option("--json", "one JSON object")
    .action((opts: ConfigOverrides & { json?: boolean }) => offloadStatus(opts, opts.json === true));
}
