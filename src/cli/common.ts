import { Option } from "commander";
import { ConfigError, type ConfigOverrides, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";

/** Exits 2, as for a usage error, on a configuration that does not validate. */
export function config(overrides: ConfigOverrides): Config {
  try {
    return loadConfig(overrides);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`hubmirror: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
}

/** A failure the user can act on: printed without a stack, exit status 1. */
export class CommandError extends Error {
  override name = "CommandError";
}

export const configOption = () => new Option("--config <file>", "YAML configuration (env HUBMIRROR_CONFIG)");
export const dataOption = () =>
  new Option("--data <dir>", "data directory (env HUBMIRROR_DATA; default ./data)");

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
