import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { type Config, configSchema } from "./schema.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Overrides from the command line; they win over the environment, which wins over the file. */
export interface ConfigOverrides {
  config?: string;
  listen?: string;
  data?: string;
  upstream?: string;
}

function describe(issue: z.core.$ZodIssue): string {
  const key = issue.path.length ? issue.path.join(".") : "(top level)";
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => `${[...issue.path, k].join(".")}: unknown key`).join("; ");
  }
  return `${key}: ${issue.message}`;
}

export function parseConfig(input: unknown, source = "config"): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) {
    throw new ConfigError(`${source}: ${result.error.issues.map(describe).join("; ")}`);
  }
  return result.data;
}

export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const file = overrides.config ?? env.HUBMIRROR_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`${file}: ${(err as Error).message}`);
    }
    try {
      raw = (parseYaml(text) as Record<string, unknown> | null) ?? {};
    } catch (err) {
      throw new ConfigError(`${file}: invalid YAML: ${(err as Error).message}`);
    }
    if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${file}: expected a mapping`);
  }
  const listen = overrides.listen ?? env.HUBMIRROR_LISTEN;
  const data = overrides.data ?? env.HUBMIRROR_DATA;
  const upstreamUrl = overrides.upstream ?? env.HUBMIRROR_UPSTREAM;
  const merged: Record<string, unknown> = { ...raw };
  if (listen) merged.listen = listen;
  if (data) merged.data = data;
  if (upstreamUrl) merged.upstream = { ...(raw.upstream as object | undefined), url: upstreamUrl };
  return parseConfig(merged, file ?? "config");
}
