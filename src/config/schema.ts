import { z } from "zod";
import { parseImageRef } from "../reference/image-ref.js";
import { parseStorageUrl } from "../storage/storage-url.js";
import { authSchema } from "./auth-schema.js";
import { limitsSchema } from "./limits-schema.js";
import {
  checkUpstreams,
  legacyUpstreamSchema,
  resolveUpstreams,
  type UpstreamConfig,
  upstreamEntrySchema,
} from "./upstream-schema.js";
import { byteSize, duration, hostPort, httpUrl } from "./values.js";

/** fs:///PATH, memory:// or s3://BUCKET[/PREFIX]?endpoint=…&region=…&path-style=…; see storage-url.ts. */
const storageUrl = z.string().superRefine((url, ctx) => {
  try {
    parseStorageUrl(url);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

/** An image reference as `hubmirror pin` and `prefetch` take it. */
const imageRef = z.string().superRefine((ref, ctx) => {
  try {
    parseImageRef(ref);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

/** OS/ARCH[/VARIANT], as in an image index. */
const platform = z
  .string()
  .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'expected a platform like "linux/amd64"');

/** Static object-storage credentials; without them the AWS chain (AWS_ACCESS_KEY_ID…, profiles) applies. */
const s3Credentials = {
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
};

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
    /** The default registry's upstream (docker.io unless `registry` says otherwise); see upstream-schema.ts. */
    upstream: legacyUpstreamSchema.optional(),
    /** More upstream registries; the default one is always configured, and `upstream:` wins over its entry here. */
    upstreams: z.array(upstreamEntrySchema).default([]),
    cache: z
      .strictObject({
        /** A tag is served from cache this long before it is revalidated upstream (with a HEAD). */
        tagTtl: duration.prefault("5m"),
        /** Longest wait on an upstream revalidation before the cached copy is served instead. */
        staleAfter: duration.prefault("3s"),
        /** The cache's size cap: least recently used content is evicted above it; none by default. */
        maxSize: byteSize.optional(),
        /** Filesystem storage: content is evicted while the disk has less free space than this. */
        minFreeDisk: byteSize.optional(),
        /** How often the cap and free space are checked besides after each new blob. */
        evictionInterval: duration.prefault("1m"),
        retention: z
          .strictObject({
            /** Tags no client pulled for this long are dropped; off by default. */
            tags: duration.optional(),
            /** Content (manifests and blobs) not accessed for this long is dropped; off by default. */
            content: duration.optional(),
            /** How often retention runs. */
            interval: duration.prefault("1h"),
          })
          .prefault({}),
        gc: z
          .strictObject({
            /** How often garbage collection runs in the background; 0 turns it off. */
            interval: duration.prefault("6h"),
            /** Unreferenced content used more recently than this is left alone (a pull may be using it). */
            grace: duration.prefault("1h"),
          })
          .prefault({}),
        /** Images never evicted, as `hubmirror pin` takes them: `library/ubuntu:22.04`, `ghcr.io/o/app@sha256:…`. */
        pin: z.array(imageRef).default([]),
      })
      .prefault({}),
    admin: z
      .strictObject({
        /** Bearer token for the admin API from other hosts; without it only loopback callers are admitted. */
        token: z.string().min(16, "use at least 16 characters").optional(),
      })
      .prefault({}),
    /** Users mode (accounts, pull tokens, personal addresses, quotas); see auth-schema.ts. */
    auth: authSchema,
    prefetch: z
      .strictObject({
        /** Images kept warm: fetched at start and every `interval` (a moved tag brings its new content). */
        images: z.array(imageRef).default([]),
        /** Platforms of multi-platform images to fetch, e.g. linux/amd64; all by default. */
        platforms: z.array(platform).default([]),
        interval: duration.prefault("6h"),
        /** Blobs downloaded at once by one prefetch. */
        concurrency: z.number().int().min(1).max(32).default(4),
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
    /** HTTPS: both files PEM; reloaded on SIGHUP without dropping connections. */
    tls: z
      .strictObject({
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        /** A plain-HTTP listener that answers every request with a redirect to HTTPS, e.g. "0.0.0.0:80". */
        redirectListen: hostPort.optional(),
      })
      .prefault({}),
    /** Bounds on what one client or upstream may cost; see src/limits/. */
    limits: limitsSchema,
    /** On SIGTERM, transfers get this long to finish before they are aborted. */
    shutdownTimeout: duration.prefault("30s"),
  })
  .superRefine((c, ctx) => {
    const { redirect } = c.storage;
    const at = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: "custom", path, message });
    checkUpstreams(c.upstream, c.upstreams, at);
    if (!c.tls.cert !== !c.tls.key) at(["tls"], "tls.cert and tls.key go together");
    if (c.tls.redirectListen && !c.tls.cert)
      at(["tls", "redirectListen"], "an HTTPS redirect needs tls.cert");
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
    const storage = c.storage.url ?? "fs:";
    if (c.cache.minFreeDisk !== undefined && !storage.startsWith("fs:")) {
      at(
        ["cache", "minFreeDisk"],
        `a free-disk mark needs filesystem storage (fs://), not ${storage}: use cache.maxSize instead`,
      );
    }
    redirect.directUserAgents.forEach((p, i) => {
      try {
        new RegExp(p);
      } catch {
        at(["storage", "redirect", "directUserAgents", String(i)], `not a regular expression: ${p}`);
      }
    });
  })
  .transform(({ upstream, upstreams, ...rest }) => {
    const list = resolveUpstreams(upstream, upstreams, rest.cache.tagTtl);
    // `upstream` stays the default registry's (also upstreams[0]) for code written against the single block.
    return { ...rest, upstream: list[0] as UpstreamConfig, upstreams: list };
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
