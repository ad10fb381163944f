import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { type Config, configSchema } from "./schema.js";
import { DEFAULT_REGISTRY } from "./upstream-schema.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Overrides from the command line; they win over the environment, which wins over the file. */
export interface ConfigOverrides {
  config?: string | undefined;
  listen?: string | undefined;
  data?: string | undefined;
  upstream?: string | undefined;
  /** `HOST=URL`, or a well-known `HOST` alone: adds an upstream or sets its URL. */
  upstreamFor?: string[] | undefined;
  storage?: string | undefined;
  redirect?: string | undefined;
  offload?: string | undefined;
  maxSize?: string | undefined;
  /** PEM files for HTTPS (`tls.cert`, `tls.key`). */
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

type Section = Record<string, unknown> | undefined;

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

/**
 * `--upstream-for HOST[=URL]`, each laid over the file: a URL for the default registry goes to `upstream.url` (as
 * `--upstream` does), any other host's to its `upstreams` entry, added when the file has none.
 */
function addUpstreams(raw: Record<string, unknown>, flags: readonly string[]): Record<string, unknown> {
  const upstream = raw.upstream as Section;
  const defaultRegistry = (upstream?.registry as string | undefined) ?? DEFAULT_REGISTRY;
  const list = Array.isArray(raw.upstreams) ? [...(raw.upstreams as unknown[])] : [];
  let block = upstream;
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    const registry = eq < 0 ? flag : flag.slice(0, eq);
    const url = eq < 0 ? undefined : flag.slice(eq + 1);
    if (!registry || url === "")
      throw new ConfigError(`--upstream-for ${flag}: expected HOST=URL or a well-known HOST`);
    const named = (e: unknown) => e === registry || (e as Section)?.registry === registry;
    const i = list.findIndex(named);
    if (registry === defaultRegistry && url) block = { ...block, url };
    else if (i < 0) list.push(url ? { registry, url } : registry);
    else if (url) list[i] = { ...(typeof list[i] === "string" ? { registry } : (list[i] as Section)), url };
  }
  return { ...(block ? { upstream: block } : {}), upstreams: list };
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
  const pick = (flag: string | undefined, name: string) => flag ?? env[`HUBMIRROR_${name}`];
  const listen = pick(overrides.listen, "LISTEN");
  const data = pick(overrides.data, "DATA");
  const upstreamUrl = pick(overrides.upstream, "UPSTREAM");
  const storageUrl = pick(overrides.storage, "STORAGE");
  const redirect = pick(overrides.redirect, "REDIRECT");
  const offloadUrl = pick(overrides.offload, "OFFLOAD");
  const maxSize = pick(overrides.maxSize, "MAX_SIZE");
  const tlsCert = pick(overrides.tlsCert, "TLS_CERT");
  const tlsKey = pick(overrides.tlsKey, "TLS_KEY");
  const merged: Record<string, unknown> = { ...raw };
  if (listen) merged.listen = listen;
  if (data) merged.data = data;
  if (upstreamUrl) merged.upstream = { ...(raw.upstream as Section), url: upstreamUrl };
  const upstreamFor = overrides.upstreamFor ?? env.HUBMIRROR_UPSTREAM_FOR?.split(/[\s,]+/).filter(Boolean);
  if (upstreamFor?.length) Object.assign(merged, addUpstreams(merged, upstreamFor));
  const storage = { ...(raw.storage as Section) };
  if (storageUrl) storage.url = storageUrl;
  if (redirect) storage.redirect = { ...(storage.redirect as Section), mode: redirect };
  if (storageUrl || redirect) merged.storage = storage;
  if (offloadUrl) merged.offload = { ...(raw.offload as Section), url: offloadUrl };
  if (maxSize)
    merged.cache = { ...(raw.cache as Section), maxSize: /^\d+$/.test(maxSize) ? Number(maxSize) : maxSize };
  if (tlsCert || tlsKey) {
    const tls = { ...(raw.tls as Section) };
    if (tlsCert) tls.cert = tlsCert;
    if (tlsKey) tls.key = tlsKey;
    merged.tls = tls;
  }
  return parseConfig(merged, file ?? "config");
}
