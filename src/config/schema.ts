import { z } from "zod";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A duration as milliseconds, or a string like "300ms", "30s", "5m", "2h". */
const duration = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+(ms|s|m|h)$/, 'expected a duration like "30s", "5m" or "250ms"')
    .transform((s) => {
      const [, n, unit] = /^(\d+)(ms|s|m|h)$/.exec(s) ?? [];
      return Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
    }),
]);

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected "HOST:PORT", e.g. "0.0.0.0:5000"');

const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });

export const configSchema = z.strictObject({
  /** Address the registry API listens on. */
  listen: hostPort.default("0.0.0.0:5000"),
  /** Data directory: metadata database, spool and (filesystem driver) the blob store. */
  data: z.string().min(1).default("./data"),
  log: z
    .strictObject({
      level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    })
    .prefault({}),
  upstream: z
    .strictObject({
      /** Registry name that clients use (`?ns=`) and the cache is keyed by. */
      registry: z.string().min(1).default("docker.io"),
      url: httpUrl.default("https://registry-1.docker.io"),
      username: z.string().optional(),
      password: z.string().optional(),
      /** HTTP(S) proxy for upstream traffic; defaults to the HTTPS_PROXY/HTTP_PROXY environment. */
      proxy: httpUrl.optional(),
      connectTimeout: duration.prefault("5s"),
      /** Time to the response headers. */
      headersTimeout: duration.prefault("30s"),
      /** Longest pause between two body chunks. */
      bodyTimeout: duration.prefault("30s"),
      /** Retries of idempotent requests before any byte reached a client. */
      retries: z.number().int().min(0).max(10).default(2),
      /** Range requests that resume one interrupted blob download. */
      resumeAttempts: z.number().int().min(0).max(100).default(5),
    })
    .prefault({}),
  cache: z
    .strictObject({
      /** A tag is served from cache this long before it is revalidated upstream (with a HEAD). */
      tagTtl: duration.prefault("5m"),
      /** Longest wait on an upstream revalidation before the cached copy is served instead. */
      staleAfter: duration.prefault("3s"),
    })
    .prefault({}),
  storage: z
    .strictObject({
      driver: z.enum(["filesystem", "inmemory"]).default("filesystem"),
      /** Filesystem driver root; default `<data>/storage`. */
      root: z.string().min(1).optional(),
    })
    .prefault({}),
  /** On SIGTERM, transfers get this long to finish before they are aborted. */
  shutdownTimeout: duration.prefault("30s"),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
