import { isAbsolute } from "node:path";

/** Where content is stored, parsed from a storage URL (`--storage`, `--offload`). */
export type StorageSpec =
  | { kind: "fs"; root: string }
  | { kind: "memory" }
  | {
      kind: "s3";
      bucket: string;
      /** Key prefix without slashes at either end; "" for the bucket's root. */
      prefix: string;
      /** undefined: AWS's own endpoint for the region. */
      endpoint: string | undefined;
      region: string;
      forcePathStyle: boolean;
    };

const S3_PARAMS = new Set(["endpoint", "region", "path-style"]);
// DNS-compatible bucket names (S3's rules, which RGW, MinIO, R2, OSS and Kodo share).
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * `fs:///ABSOLUTE/PATH`, `memory://`, or `s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path-style=true|false`.
 * Throws an Error whose message says what is wrong; credentials never go in the URL.
 */
export function parseStorageUrl(raw: string): StorageSpec {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`"${raw}" is not a URL: expected fs:///PATH, memory:// or s3://BUCKET[/PREFIX]?…`);
  }
  if (url.username || url.password)
    throw new Error("put credentials in the config or environment, not the URL");
  if (url.protocol === "memory:") return { kind: "memory" };
  if (url.protocol === "fs:") {
    const root = decodeURIComponent(url.pathname);
    if (url.host || !isAbsolute(root) || root === "/") {
      throw new Error(`fs: URL needs an absolute directory, as in fs:///var/lib/hubmirror (got "${raw}")`);
    }
    return { kind: "fs", root };
  }
  if (url.protocol !== "s3:")
    throw new Error(`unknown storage scheme "${url.protocol}": fs:, memory: or s3:`);
  const bucket = url.hostname;
  if (!BUCKET_RE.test(bucket)) throw new Error(`invalid bucket name "${bucket}"`);
  for (const key of url.searchParams.keys()) {
    if (!S3_PARAMS.has(key))
      throw new Error(`unknown s3 URL parameter "${key}": endpoint, region, path-style`);
  }
  const endpoint = url.searchParams.get("endpoint") ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\/[^/]+\/?$/.test(endpoint)) {
    throw new Error(`endpoint must be http(s)://HOST[:PORT] (got "${endpoint}")`);
  }
  const pathStyle = url.searchParams.get("path-style");
  if (pathStyle !== null && pathStyle !== "true" && pathStyle !== "false") {
    throw new Error(`path-style must be true or false (got "${pathStyle}")`);
  }
  return {
    kind: "s3",
    bucket,
    prefix: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ""),
    endpoint: endpoint?.replace(/\/$/, ""),
    region: url.searchParams.get("region") ?? "us-east-1",
    // A custom endpoint (RGW, MinIO) rarely has wildcard DNS for virtual-host buckets.
    forcePathStyle: pathStyle === null ? endpoint !== undefined : pathStyle === "true",
  };
}
