import { z } from "zod";
import { parseStorageUrl } from "../storage/storage-url.js";

/** A whole number, or a string of one with a unit suffix: "30s", "10MiB". */
function withUnits(units: Record<string, number>, hint: string) {
  const re = new RegExp(`^(\\d+)(${Object.keys(units).join("|")})$`);
  return z.union(
    [
      z.number().int().nonnegative(),
      z
        .string()
        .regex(re)
        .transform((s) => {
          const [, n, unit] = re.exec(s) ?? [];
          return Number(n) * (units[unit as string] as number);
        }),
    ],
    { error: hint },
  );
}

/** A duration as milliseconds, or a string like "300ms", "30s", "5m", "2h". */
const duration = withUnits(
  { ms: 1, s: 1000, m: 60_000, h: 3_600_000 },
  'expected a duration like "30s", "5m" or "250ms"',
);

/** A size in bytes, or a string like "512KiB", "10MiB", "200GiB". */
const byteSize = withUnits(
  { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 },
  'expected a size like "10MiB" or "200GiB"',
);

/** fs:///PATH, memory:// or s3://BUCKET[/PREFIX]?endpoint=…&region=…&path-style=…; see storage-url.ts. */
const storageUrl = z.string().superRefine((url, ctx) => {
  try {
    parseStorageUrl(url);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

/** Static object-storage credentials; without them the AWS chain (AWS_ACCESS_KEY_ID…, profiles) applies. */
const s3Credentials = {
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
};

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected "HOST:PORT", e.g. "0.0.0.0:5000"');

const httpUrl = z.url({ protocol: /^https?$/, error: "expected an http(s) URL" });

export const configSchema = z
  .strictObject({
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
        /** Where the cache lives; default fs://<data>/storage. */
        url: storageUrl.optional(),
        ...s3Credentials,
        redirect: z
          .strictObject({
            /** off: serve every blob; presigned: 307 to a presigned object-storage URL; cdn: 307 to a signed CDN URL. */
            mode: z.enum(["off", "presigned", "cdn"]).default("off"),
            /** How long a redirect URL stays valid. */
            expiry: duration.prefault("20m"),
            cdn: z
              .strictObject({
                /** The CDN's URL for the bucket (or prefix) root: a blob's path is appended. */
                baseUrl: httpUrl,
                signer: z.enum(["nginx-secure-link", "hmac-sha256"]).default("nginx-secure-link"),
                secret: z.string().min(1),
              })
              .optional(),
            /** User-Agent patterns (regular expressions) of clients that can't follow redirects: served directly. */
            directUserAgents: z.array(z.string().min(1)).default([]),
          })
          .prefault({}),
      })
      .prefault({}),
    offload: z
      .strictObject({
        /** Object storage that committed blobs are copied to, and clients redirected to; none by default. */
        url: storageUrl.optional(),
        ...s3Credentials,
        /** Only blobs at least this large are offloaded. */
        minSize: byteSize.default(0),
        /** Only blobs requested at least this many times are offloaded. */
        minRequests: z.number().int().nonnegative().default(0),
        /** How often the background worker looks for blobs to copy (and failed copies to retry). */
        interval: duration.prefault("10s"),
        /** Copies in flight at once. */
        concurrency: z.number().int().min(1).max(32).default(2),
      })
      .prefault({}),
    /** On SIGTERM, transfers get this long to finish before they are aborted. */
    shutdownTimeout: duration.prefault("30s"),
  })
  .superRefine((c, ctx) => {
    const { redirect } = c.storage;
    const at = (path: string[], message: string) => ctx.addIssue({ code: "custom", path, message });
    if (redirect.mode === "cdn" && !redirect.cdn) {
      at(["storage", "redirect", "cdn"], "redirect mode cdn needs cdn.baseUrl and cdn.secret");
    }
    const target = c.offload.url ?? c.storage.url ?? "fs:";
    if (redirect.mode === "presigned" && !target.startsWith("s3:")) {
      at(
        ["storage", "redirect", "mode"],
        "presigned redirects need object storage (an s3:// storage or offload URL)",
      );
    }
    redirect.directUserAgents.forEach((p, i) => {
      try {
        new RegExp(p);
      } catch {
        at(["storage", "redirect", "directUserAgents", String(i)], `not a regular expression: ${p}`);
      }
    });
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
