#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startApp } from "./app.js";
import { ConfigError, loadConfig } from "./config/load.js";

const USAGE = `Usage: hubmirror serve [--config FILE] [--listen HOST:PORT] [--data DIR] [--upstream URL]

A Docker Hub pull-through cache registry.

  --config FILE      YAML configuration (env HUBMIRROR_CONFIG)
  --listen HOST:PORT address to listen on (env HUBMIRROR_LISTEN; default 0.0.0.0:5000)
  --data DIR         data directory (env HUBMIRROR_DATA; default ./data)
  --upstream URL     docker.io upstream base URL (env HUBMIRROR_UPSTREAM; default https://registry-1.docker.io)
  --help, --version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      listen: { type: "string" },
      data: { type: "string" },
      upstream: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
    },
  });
}

/** Returns an exit code, or -1 while the server runs. */
async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`hubmirror: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (positionals.length !== 1 || positionals[0] !== "serve") {
    process.stderr.write(`hubmirror: expected the command "serve"\n\n${USAGE}`);
    return 2;
  }
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(values);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`hubmirror: invalid configuration: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const app = await startApp(config);
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
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: Error) => {
    process.stderr.write(`hubmirror: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
