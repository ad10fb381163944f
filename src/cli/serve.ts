import type { Command } from "commander";
import { startApp } from "../app.js";
import type { ConfigOverrides } from "../config/load.js";
import { StorageSetupError } from "../storage/driver.js";
import { TlsSetupError } from "../tls/key-pair.js";
import { config, configOption, dataOption } from "./common.js";

async function serve(overrides: ConfigOverrides): Promise<void> {
  const app = await startApp(config(overrides)).catch((err: unknown) => {
    if (err instanceof StorageSetupError)
      process.stderr.write(`hubmirror: cannot open storage: ${err.message}\n`);
    else if (err instanceof TlsSetupError)
      process.stderr.write(`hubmirror: cannot use TLS: ${err.message}\n`);
    else throw err;
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
  // A renewed certificate is taken up without a restart; reloadTls logs the outcome (no TLS: a log line only).
  process.on("SIGHUP", () => void app.reloadTls());
}

export function registerServe(cli: Command): void {
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
    .option(
      "--max-size <size>",
      "cache size cap, e.g. 200GiB: least recently used content is evicted above it (env HUBMIRROR_MAX_SIZE)",
    )
    .option("--tls-cert <file>", "PEM certificate (chain) to serve HTTPS with (env HUBMIRROR_TLS_CERT)")
    .option("--tls-key <file>", "PEM private key of --tls-cert (env HUBMIRROR_TLS_KEY)")
    .action((opts: ConfigOverrides) => serve(opts));
}
