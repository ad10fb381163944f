import { z } from "zod";
import { patternError } from "../reference/repo-pattern.js";
import { duration, httpUrl } from "./values.js";
import { WELL_KNOWN } from "./well-known.js";

export const DEFAULT_REGISTRY = "docker.io";

const LABEL = "[a-z0-9](?:[a-z0-9-]*[a-z0-9])?";
const HOST = `${LABEL}(?:\\.${LABEL})*`;

const hostName = z
  .string()
  .regex(new RegExp(`^${HOST}$`), 'expected a lowercase host name without port, e.g. "ghcr.mirror.example"');

/** The name clients give a registry: a host, with its port when it has one (`localhost:5000`). */
const registryName = z
  .string()
  .regex(new RegExp(`^${HOST}(?::\\d{1,5})?$`), 'expected a lowercase registry host, e.g. "ghcr.io"');

/** An origin a token realm may be on; a path would suggest a precision the check doesn't have. */
const origin = httpUrl
  .refine((u) => {
    const url = new URL(u);
    return url.pathname === "/" && !url.search && !url.hash && !url.username;
  }, 'expected an origin without path, e.g. "https://auth.docker.io"')
  .transform((u) => new URL(u).origin);

const repoPattern = z.string().superRefine((p, ctx) => {
  const message = patternError(p);
  if (message) ctx.addIssue({ code: "custom", message });
});

/** Settings of one upstream; all optional, so `upstream:` can be laid over a list entry key by key. */
const settings = {
  url: httpUrl.optional(),
  /** A pool of accounts (user + access token); empty: anonymous. */
  credentials: z
    .array(z.strictObject({ username: z.string().min(1), password: z.string().min(1) }))
    .optional(),
  /** One account: the same as a one-entry `credentials`. */
  username: z.string().min(1).optional(),
  password: z.string().optional(),
  proxy: httpUrl.optional(),
  connectTimeout: duration.optional(),
  headersTimeout: duration.optional(),
  bodyTimeout: duration.optional(),
  retries: z.number().int().min(0).max(10).optional(),
  resumeAttempts: z.number().int().min(0).max(100).optional(),
  /** Overrides cache.tagTtl for this upstream. */
  tagTtl: duration.optional(),
  allow: z.array(repoPattern).optional(),
  deny: z.array(repoPattern).optional(),
  /** Host names (the request's Host header, port stripped) that route to this upstream. */
  hosts: z.array(hostName).optional(),
  /** Token-realm origins allowed besides the upstream's own (and a well-known registry's). */
  tokenRealms: z.array(origin).optional(),
  allowPrivateRedirects: z.boolean().optional(),
  breaker: z
    .strictObject({
      /** Consecutive failures that open the breaker; 0 (the default) turns it off. */
      failures: z.number().int().min(0).max(1000).default(0),
      /** How long it stays open before a probe may close it. */
      openFor: duration.prefault("30s"),
    })
    .optional(),
};

/** `upstream:`, the single block of old: the default registry's settings. */
export const legacyUpstreamSchema = z.strictObject({ registry: registryName.optional(), ...settings });

/** An entry of `upstreams:`; a bare string names a registry with the defaults (well-known ones need no more). */
export const upstreamEntrySchema = z.preprocess(
  (v) => (typeof v === "string" ? { registry: v } : v),
  z.strictObject({ registry: registryName, ...settings }),
);

type Settings = Omit<z.output<typeof legacyUpstreamSchema>, "registry">;
type Entry = z.output<typeof upstreamEntrySchema>;
type Legacy = z.output<typeof legacyUpstreamSchema> | undefined;

/**
 * What the transport is built from for one upstream: `UpstreamOptions` plus the pool, realms, redirect and breaker
 * settings, and what the proxy and router need. `username`/`password` repeat the pool's first account for a
 * transport that takes one.
 */
export interface UpstreamConfig {
  registry: string;
  url: string;
  credentials: { username: string; password: string }[];
  username: string | undefined;
  password: string | undefined;
  proxy: string | undefined;
  connectTimeout: number;
  headersTimeout: number;
  bodyTimeout: number;
  retries: number;
  resumeAttempts: number;
  tagTtl: number;
  allow: string[];
  deny: string[];
  hosts: string[];
  /** Origins, the upstream's own first. */
  tokenRealms: string[];
  allowPrivateRedirects: boolean;
  breaker: { failures: number; openForMs: number };
}

type Path = (string | number)[];

/** One registry's settings as merged, and where each key came from (for error messages). */
interface Merged {
  registry: string;
  settings: Settings;
  where: (key: keyof Settings) => Path;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The default registry first, then the list in order. `upstream:` is laid over the default registry's list entry
 * key by key, so it (and `--upstream`) wins where both set a key.
 */
function merge(legacy: Legacy, list: readonly Entry[]): Merged[] {
  const { registry: legacyRegistry, ...block } = legacy ?? {};
  const registry = legacyRegistry ?? DEFAULT_REGISTRY;
  const index = list.findIndex((e) => e.registry === registry);
  const entry = list[index];
  const own = defined(block);
  const first: Merged = {
    registry,
    settings: { ...defined(entry ?? { registry }), ...own } as Settings,
    where: (key) => (key in own || index < 0 ? ["upstream", key] : ["upstreams", index, key]),
  };
  const rest = list.flatMap((e, i): Merged[] =>
    i === index ? [] : [{ registry: e.registry, settings: e, where: (key) => ["upstreams", i, key] }],
  );
  return [first, ...rest];
}

/** Cross-entry rules the field schemas can't express; `at` records an issue under a config path. */
export function checkUpstreams(
  legacy: Legacy,
  list: readonly Entry[],
  at: (p: Path, m: string) => void,
): void {
  const seen = new Map<string, number>();
  list.forEach((e, i) => {
    if (seen.has(e.registry)) at(["upstreams", i, "registry"], `${e.registry} is listed twice`);
    seen.set(e.registry, i);
  });
  const hosts = new Map<string, string>();
  for (const { registry, settings: s, where } of merge(legacy, list)) {
    if (!s.url && !WELL_KNOWN[registry]) {
      const known = Object.keys(WELL_KNOWN).join(", ");
      at(where("url"), `required: ${registry} is not a well-known registry (${known})`);
    }
    if (s.username && s.credentials) at(where("username"), "use credentials or username/password, not both");
    if (s.password !== undefined && !s.username) at(where("password"), "needs a username");
    (s.hosts ?? []).forEach((h, j) => {
      const other = hosts.get(h);
      if (other) at([...where("hosts"), j], `${h} already routes to ${other}`);
      hosts.set(h, registry);
    });
  }
}

function resolve({ registry, settings: s }: Merged, tagTtl: number): UpstreamConfig {
  const known = WELL_KNOWN[registry];
  const url = s.url ?? known?.url ?? "";
  const credentials =
    s.credentials ?? (s.username ? [{ username: s.username, password: s.password ?? "" }] : []);
  // A well-known registry's realms come with its URL, not with its name on another server.
  const knownRealms = known && url === known.url ? known.tokenRealms : [];
  return {
    registry,
    url,
    credentials,
    username: credentials[0]?.username,
    password: credentials[0]?.password,
    proxy: s.proxy,
    connectTimeout: s.connectTimeout ?? 5_000,
    headersTimeout: s.headersTimeout ?? 30_000,
    bodyTimeout: s.bodyTimeout ?? 30_000,
    retries: s.retries ?? 2,
    resumeAttempts: s.resumeAttempts ?? 5,
    tagTtl: s.tagTtl ?? tagTtl,
    allow: s.allow ?? [],
    deny: s.deny ?? [],
    hosts: s.hosts ?? [],
    tokenRealms: [...new Set([new URL(url).origin, ...knownRealms, ...(s.tokenRealms ?? [])])],
    allowPrivateRedirects: s.allowPrivateRedirects ?? false,
    // Off unless configured: while open it also fails a download's Range resumes, so a registry restarted
    // mid-blob within openFor costs the download (resumes should wait for the probe first; not yet).
    breaker: { failures: s.breaker?.failures ?? 0, openForMs: s.breaker?.openFor ?? 30_000 },
  };
}

/** Every configured upstream, complete, the default registry first; run only on a checked configuration. */
export function resolveUpstreams(legacy: Legacy, list: readonly Entry[], tagTtl: number): UpstreamConfig[] {
  return merge(legacy, list).map((m) => resolve(m, tagTtl));
}
