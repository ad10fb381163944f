#!/usr/bin/env node
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Command, CommanderError, Option } from "commander";
import { startApp } from "./app.js";
import { ConfigError, type ConfigOverrides, loadConfig } from "./config/load.js";
import type { Config } from "./config/schema.js";
import { SqliteStore } from "./metadata/sqlite-store.js";
import type { OffloadStatus } from "./metadata/store.js";
import { StorageSetupError } from "./storage/driver.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** Exits 2, as for a usage error, on a configuration that does not validate. */
function config(overrides: ConfigOverrides): Config {
  try {
    return loadConfig(overrides);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`hubmirror: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
}

async function serve(overrides: ConfigOverrides): Promise<void> {
  const app = await startApp(config(overrides)).catch((err: unknown) => {
    if (!(err instanceof StorageSetupError)) throw err;
    process.stderr.write(`hubmirror: cannot open storage: ${err.message}\n`);
    process.exit(1);
  });
  const stop = (signal: string) => {
    app.log.info({ signal }, "shutting down");
    app.close().then(
      () => app.log.flush(() => process.exit(0)),
      (err: Error) => {
        app.log.error({ err: err.message }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

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

const configOption = () => new Option("--config <file>", "YAML configuration (env HUBMIRROR_CONFIG)");
const dataOption = () => new Option("--data <dir>", "data directory (env HUBMIRROR_DATA; default ./data)");

function program(): Command {
  const cli = new Command("hubmirror")
    .description("A Docker Hub pull-through cache registry.")
    // Read only when asked: a build copied without package.json beside it must still serve.
    .option("--version", "output the version number")
    .on("option:version", () => {
      process.stdout.write(`${version()}\n`);
      process.exit(0);
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  cli
    .command("serve")
    .description("run the mirror")
    .addOption(configOption())
    .option("--listen <host:port>", "address to listen on (env HUBMIRROR_LISTEN; default 0.0.0.0:5000)")
    .addOption(dataOption())
    .option(
      "--upstream <url>",
      "docker.io upstream (env HUBMIRROR_UPSTREAM; default https://registry-1.docker.io)",
    )
    .option(
      "--upstream-for <host=url>",
      "another upstream registry, e.g. ghcr.io=https://ghcr.io, or a well-known host alone (repeatable; env HUBMIRROR_UPSTREAM_FOR, comma-separated)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--storage <url>", "fs:///PATH, memory:// or s3://BUCKET[/PREFIX]?… (env HUBMIRROR_STORAGE)")
    .option(
      "--redirect <mode>",
      "off, presigned or cdn: where GETs of stored blobs go (env HUBMIRROR_REDIRECT)",
    )
    .option("--offload <url>", "s3://… that blobs are copied to and clients sent to (env HUBMIRROR_OFFLOAD)")
    .action((opts: ConfigOverrides) => serve(opts));
  const offload = cli.command("offload").description("tiered mode: the offload target");
  offload
    .command("status")
    .description("blobs synced to the offload target, pending and failed, with their bytes")
    .addOption(configOption())
    .addOption(dataOption())
    .option("--json", "one JSON object")
    .action((opts: ConfigOverrides & { json?: boolean }) => offloadStatus(opts, opts.json === true));
  return cli;
}

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with code 0; usage errors are 2 as for a bad config.
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    process.stderr.write(`hubmirror: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
