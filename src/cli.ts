#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerCache } from "./cli/cache.js";
import { CommandError } from "./cli/common.js";
import { registerGc } from "./cli/gc.js";
import { registerOffload } from "./cli/offload.js";
import { registerPrefetch } from "./cli/prefetch.js";
import { registerServe } from "./cli/serve.js";
import { registerUsers } from "./cli/users.js";
import { registerVerify } from "./cli/verify.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

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
  registerServe(cli);
  registerOffload(cli);
  registerCache(cli);
  registerPrefetch(cli);
  registerGc(cli);
  registerVerify(cli);
  registerUsers(cli);
  return cli;
}

program()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with code 0; usage errors are 2 as for a bad config.
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    if (err instanceof CommandError) {
      process.stderr.write(`hubmirror: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`hubmirror: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
